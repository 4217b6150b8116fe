//! One decoded request as handlers see it: labels, query, headers, body, and the caller.

use std::borrow::Cow;

use belfry_core::auth::Caller;
use belfry_core::{validate, CoreError};
use bytes::Bytes;
use http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The bearer header every channel operation carries.
pub const BEARER_HEADER: &str = "x-amz-chime-bearer";

/// A routed, authenticated request.
#[derive(Debug)]
pub struct ApiRequest {
    /// Decoded path labels.
    pub labels: Vec<(&'static str, String)>,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers as received.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// Who signed it.
    pub caller: Caller,
}

impl ApiRequest {
    /// A path label; the route guarantees it is present and non-empty.
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// A query parameter (the first, if repeated).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer query parameter; `member` names it in errors.
    pub fn query_int(&self, name: &str, member: &str) -> Result<Option<i64>, ApiError> {
        self.query(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::Core(validate::violation(member, "must be an integer")))
            })
            .transpose()
    }

    /// The `x-amz-chime-bearer` header, if present and text.
    pub fn bearer(&self) -> Option<&str> {
        self.headers
            .get(BEARER_HEADER)
            .and_then(|v| v.to_str().ok())
    }

    /// The JSON body as `T`. An empty body reads as `{}`; malformed JSON or a member of the
    /// wrong type is a BadRequest naming the member.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        // serde would also read a struct from a JSON array; the protocol only allows objects.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::Core(CoreError::bad(
                "The request body must be a JSON object.",
            )));
        }
        // Tracking the path costs on every request; it is only needed to word an error, so a
        // failed parse is repeated with it.
        if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
            return Ok(value);
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de)
            .map_err(|e| ApiError::Core(CoreError::BadRequest(decode_message(&e))))
    }
}

/// Header names and values as text, for SigV4. A value that is not visible ASCII is kept,
/// decoded lossily, rather than dropped: the verifier then says what is wrong with a signed
/// one instead of calling it absent.
pub(crate) fn header_texts(headers: &HeaderMap) -> Vec<(&str, Cow<'_, str>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// Longest map key named in a member path (a MessageAttributes name is at most 64 characters).
const MAX_KEY_ECHO: usize = 64;

/// How a failed decode is told to the client: the member and the rule it broke, never the
/// value that broke it (which may be large or sensitive; serde's own messages quote it).
fn decode_message(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = member_path(e.path());
    let inner = e.inner();
    let text = inner.to_string();
    let text = text.find(" at line ").map_or(text.as_str(), |i| &text[..i]);
    if inner.is_syntax() || inner.is_eof() {
        // serde_json's syntax messages are fixed phrases ("expected value", "EOF while parsing
        // a string"), with no input in them.
        return format!("The request body is not valid JSON: {text}.");
    }
    if let Some(field) = text
        .strip_prefix("duplicate field `")
        .and_then(|f| f.strip_suffix('`'))
    {
        return format!(
            "The member '{}' appears more than once.",
            join(&path, &shown_key(field))
        );
    }
    if let Some(field) = text
        .strip_prefix("missing field `")
        .and_then(|f| f.strip_suffix('`'))
    {
        return validate::violation(&join(&path, &shown_key(field)), "must not be null")
            .to_string();
    }
    let path = if path.is_empty() {
        "body".to_string()
    } else {
        path
    };
    validate::violation(&path, rule(text)).to_string()
}

/// The rule a data error breaks, from the parts of serde's message that come from the target
/// type (what was expected, the allowed variants) and the kind of JSON value received, read
/// from the fixed prefix serde gives it. The value itself is never copied.
fn rule(text: &str) -> String {
    // The expected part follows the value, so the last ", expected " is serde's own even when
    // the value contains those words.
    let expected = text
        .rsplit_once(", expected ")
        .map(|(_, exp)| exp)
        .unwrap_or("");
    if let Some(got) = text.strip_prefix("invalid type: ") {
        return format!(
            "must be {} (got {})",
            expected_kind(expected),
            json_kind(got)
        );
    }
    if text.starts_with("invalid value: ") {
        return format!("must be {} within its range", expected_kind(expected));
    }
    if text.starts_with("unknown variant ") {
        let allowed: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(", ")
            .map(|v| v.trim_matches('`'))
            .collect();
        return format!("must satisfy enum value set: [{}]", allowed.join(", "));
    }
    if text.starts_with("invalid length ") {
        return format!("must be {}", expected_kind(expected));
    }
    "does not match the operation's input".to_string()
}

/// The model's name for what a target type expects; serde names Rust types.
fn expected_kind(expected: &str) -> &'static str {
    match expected {
        "a string" | "a borrowed string" | "a character" => "a string",
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize"
        | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" => "a boolean",
        "a sequence" => "a JSON array",
        e if e == "a map" || e.starts_with("struct ") => "a JSON object",
        _ => "of the model's type",
    }
}

/// The kind of JSON value from serde's description of it (`string "…"`, `integer `5``, `map`).
fn json_kind(unexpected: &str) -> &'static str {
    const KINDS: &[(&str, &str)] = &[
        ("string", "a string"),
        ("integer", "a number"),
        ("floating point", "a number"),
        ("boolean", "a boolean"),
        ("map", "a JSON object"),
        ("sequence", "a JSON array"),
        ("null", "null"),
        ("unit", "null"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| unexpected.starts_with(prefix))
        .map_or("another type", |(_, kind)| kind)
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

/// A map key as written in a member path: the key itself when short and printable (member
/// names, MessageAttributes names), else a placeholder, so a path cannot carry a large input.
fn shown_key(key: &str) -> String {
    let printable = key.chars().all(|c| !c.is_control() && c != '\'');
    if printable && key.chars().count() <= MAX_KEY_ECHO {
        key.to_string()
    } else {
        "<key>".to_string()
    }
}

/// serde's path (`Tags[0].Key`) in the model's member notation (`Tags.1.member.Key`).
fn member_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!(".{}.member", index + 1)),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&shown_key(key));
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&shown_key(variant));
            }
            Segment::Unknown => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
