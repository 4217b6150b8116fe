//! Input rules from the service model (lengths, patterns, enums, ranges). Every refusal is a
//! `BadRequest` whose message names the member and the rule, in the wording AWS services use.

use crate::error::{CoreError, CoreResult};

/// The AWS wording for one broken constraint on `field`.
pub fn violation(field: &str, rule: impl std::fmt::Display) -> CoreError {
    CoreError::BadRequest(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member {rule}"
    ))
}

/// A required member that is absent.
pub fn required<T>(field: &str, value: Option<T>) -> CoreResult<T> {
    value.ok_or_else(|| violation(field, "must not be null"))
}

/// Length in Unicode scalar values, as Smithy's `@length` counts for strings.
pub fn length(field: &str, value: &str, min: usize, max: usize) -> CoreResult<()> {
    count(field, value.chars().count(), min, max)
}

/// Length of a list member (or of a string, already counted).
pub fn count(field: &str, n: usize, min: usize, max: usize) -> CoreResult<()> {
    if n < min {
        return Err(violation(
            field,
            format!("must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(violation(
            field,
            format!("must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// An integer range.
pub fn range(field: &str, value: i64, min: i64, max: i64) -> CoreResult<()> {
    if value < min {
        return Err(violation(
            field,
            format!("must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(violation(
            field,
            format!("must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn pattern_err(field: &str, pattern: &str) -> CoreError {
    violation(
        field,
        format!("must satisfy regular expression pattern: {pattern}"),
    )
}

/// `ClientRequestToken`: 2–64 of `[-_a-zA-Z0-9]`.
pub fn client_request_token(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 2, 64)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(pattern_err(field, "[-_a-zA-Z0-9]*"));
    }
    Ok(())
}

/// `UserId` / `ChannelId`: 1–64, `[A-Za-z0-9]([A-Za-z0-9:\-_.@]{0,62}[A-Za-z0-9])?`.
pub fn resource_id(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 1, 64)?;
    let bytes = value.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_alphanumeric();
    let inner_ok =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.' | b'@');
    let ok = match bytes {
        [] => false,
        [only] => edge_ok(*only),
        [first, inner @ .., last] => {
            edge_ok(*first) && edge_ok(*last) && inner.iter().all(|b| inner_ok(*b))
        }
    };
    if !ok {
        return Err(pattern_err(
            field,
            "[A-Za-z0-9]([A-Za-z0-9\\:\\-\\_\\.\\@]{0,62}[A-Za-z0-9])?",
        ));
    }
    Ok(())
}

/// `NonEmptyResourceName`: 1–256 characters of the XML-safe class the model allows.
pub fn resource_name(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 1, 256)?;
    if !value.chars().all(xml_char) {
        return Err(pattern_err(
            field,
            "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]*",
        ));
    }
    Ok(())
}

fn xml_char(c: char) -> bool {
    matches!(c as u32,
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// `UserName`: 1–100 characters with at least one that is not white space (`.*\S.*`).
pub fn user_name(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 1, 100)?;
    if value.chars().all(char::is_whitespace) || value.contains(['\n', '\r']) {
        return Err(pattern_err(field, ".*\\S.*"));
    }
    Ok(())
}

/// `Metadata`: up to 1024 characters. The model's `.*` is not applied to line breaks: metadata is
/// commonly JSON, and AWS documents only the 1 KB limit (see docs/compat.md).
pub fn metadata(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 0, 1024)
}

/// `ChimeArn`: 5–1600 characters, `arn:[a-z0-9-.]{1,63}:[a-z0-9-.]{0,63}:[a-z0-9-.]{0,63}:[a-z0-9-.]{0,63}:[^/].{0,1023}`.
pub fn chime_arn(field: &str, value: &str) -> CoreResult<()> {
    length(field, value, 5, 1600)?;
    if !chime_arn_matches(value) {
        return Err(pattern_err(
            field,
            "arn:[a-z0-9-\\.]{1,63}:[a-z0-9-\\.]{0,63}:[a-z0-9-\\.]{0,63}:[a-z0-9-\\.]{0,63}:[^/].{0,1023}",
        ));
    }
    Ok(())
}

fn chime_arn_matches(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let seg_ok = |s: &str, min: usize| {
        s.len() >= min
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    for min in [1, 0, 0, 0] {
        match parts.next() {
            Some(s) if seg_ok(s, min) => {}
            _ => return false,
        }
    }
    match parts.next() {
        Some(resource) => {
            let n = resource.chars().count();
            (1..=1024).contains(&n)
                && !resource.starts_with('/')
                && !resource.contains(['\n', '\r'])
        }
        None => false,
    }
}

/// An enum member: `value` must be one of `allowed`.
pub fn one_of<'a>(field: &str, value: &str, allowed: &[&'a str]) -> CoreResult<&'a str> {
    allowed
        .iter()
        .find(|a| **a == value)
        .copied()
        .ok_or_else(|| {
            violation(
                field,
                format!("must satisfy enum value set: [{}]", allowed.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: CoreResult<()>) -> bool {
        r.is_ok()
    }

    #[test]
    fn resource_ids() {
        let cases: &[(&str, bool)] = &[
            ("a", true),
            ("user-1", true),
            ("us-east-1:b7ea0f5e-3b4f", true),
            ("a@b.c", true),
            ("-a", false),
            ("a-", false),
            ("a/b", false),
            ("", false),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
        ];
        for (id, want) in cases {
            assert_eq!(ok(resource_id("Id", id)), *want, "{id}");
        }
    }

    #[test]
    fn arns() {
        let cases: &[(&str, bool)] = &[
            ("arn:aws:chime:us-east-1:000000000000:app-instance/x", true),
            ("arn:aws:chime:us-east-1:000000000000:/x", false),
            ("arn:AWS:chime:us-east-1:0:app-instance/x", false),
            ("arn::chime:us-east-1:0:x", false),
            ("nope", false),
            ("arn:aws:chime:us-east-1:0", false),
        ];
        for (arn, want) in cases {
            assert_eq!(ok(chime_arn("Arn", arn)), *want, "{arn}");
        }
    }

    #[test]
    fn messages_name_field_and_rule() {
        let e = length("Name", &"x".repeat(257), 1, 256).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value at 'Name' failed to satisfy constraint: Member must have length less than or equal to 256"
        );
        assert!(client_request_token("ClientRequestToken", "a b").is_err());
        assert!(user_name("Name", "   ").is_err());
        assert!(user_name("Name", " x ").is_ok());
        assert!(resource_name("Name", "bad\u{1}").is_err());
        assert!(one_of("Mode", "OPEN", &["UNRESTRICTED", "RESTRICTED"]).is_err());
        assert!(range("ExpirationDays", 5476, 1, 5475).is_err());
    }
}
