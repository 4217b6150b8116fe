//! One decoded request as handlers see it: labels, query, headers, body, and the caller.

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
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = member_path(&e.path().to_string());
            let inner = e.into_inner();
            let detail = plain_serde_message(&inner.to_string());
            let msg = if inner.is_syntax() || inner.is_eof() {
                format!("The request body is not valid JSON: {detail}")
            } else if let Some(dup) = detail.strip_prefix("duplicate field ") {
                format!(
                    "The member {} appears more than once.",
                    dup.replace('`', "'")
                )
            } else if path.is_empty() || path == "." {
                format!("The request body does not match the operation's input: {detail}")
            } else {
                crate::validate_message(&path, &detail)
            };
            ApiError::Core(CoreError::BadRequest(msg))
        })
    }
}

/// Rewrites serde's path (`Tags[0].Key`) in the model's member notation (`Tags.1.member.Key`).
fn member_path(serde_path: &str) -> String {
    let mut out = String::new();
    let mut rest = serde_path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let index = &rest[open + 1..open + close];
        match index.parse::<usize>() {
            Ok(i) => out.push_str(&format!(".{}.member", i + 1)),
            Err(_) => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// serde's wording without Rust type names or source positions.
fn plain_serde_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    match message.find("expected struct ") {
        Some(i) => format!("{}expected a JSON object", &message[..i]),
        None => message
            .replace("expected a sequence", "expected a JSON array")
            .replace("expected a map", "expected a JSON object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_messages_read_like_the_model() {
        assert_eq!(member_path("Tags[0].Key"), "Tags.1.member.Key");
        assert_eq!(member_path("Target[1]"), "Target.2.member");
        assert_eq!(member_path("Name"), "Name");
        assert_eq!(
            plain_serde_message("invalid type: null, expected struct TagDto at line 1 column 40"),
            "invalid type: null, expected a JSON object"
        );
        assert_eq!(
            plain_serde_message("invalid type: integer `5`, expected a string at line 1 column 9"),
            "invalid type: integer `5`, expected a string"
        );
    }
}
