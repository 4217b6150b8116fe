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
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = if inner.is_syntax() || inner.is_eof() {
                format!("The request body is not valid JSON: {inner}")
            } else if path == "." || path.is_empty() {
                format!("The request body must be a JSON object: {inner}")
            } else {
                format!("Invalid value for member '{path}': {inner}")
            };
            ApiError::Core(CoreError::BadRequest(msg))
        })
    }
}
