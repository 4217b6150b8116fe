//! Why a request is refused, and which AWS error type says so.

use std::fmt;

/// Why a request is refused.
///
/// Each variant maps to one AWS error type (see [`SigV4Error::aws_error_type`]); all are HTTP 403
/// at the AWS front door. Messages say what is wrong but never contain the secret key nor the
/// signature the server computed, since either would help an attacker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Signature`/`X-Amz-Credential` query parameters.
    Missing,
    /// Malformed authorization: missing `Credential`/`SignedHeaders`/`Signature`, bad credential
    /// scope shape, unsupported algorithm, missing or unparseable `X-Amz-Date`, `host` not
    /// signed, a present `x-amz-chime-bearer` not signed, `x-amz-date` not signed…
    Incomplete(String),
    /// Well-formed but wrong: signature mismatch, request time outside the allowed window, scope
    /// date different from the `X-Amz-Date` date, wrong region or service, or an
    /// `x-amz-content-sha256` that does not match the body.
    Invalid(String),
}

impl SigV4Error {
    /// The AWS error type (`x-amzn-ErrorType` header value) for this refusal.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            SigV4Error::Missing => "MissingAuthenticationTokenException",
            SigV4Error::Incomplete(_) => "IncompleteSignatureException",
            SigV4Error::Invalid(_) => "InvalidSignatureException",
        }
    }

    /// The human-readable message to send back to the client.
    pub fn message(&self) -> String {
        match self {
            // The exact text AWS returns for an unauthenticated request.
            SigV4Error::Missing => "Missing Authentication Token".to_owned(),
            SigV4Error::Incomplete(m) | SigV4Error::Invalid(m) => m.clone(),
        }
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        SigV4Error::Incomplete(message.into())
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SigV4Error::Invalid(message.into())
    }
}

/// At most this many characters of a request's own text are quoted in a message.
const MAX_ECHO: usize = 64;

/// How a message quotes text from the request (a component name, a header name, a region): a
/// short printable prefix, so that no message grows with the input or carries control bytes.
pub(crate) fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_ECHO)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().nth(MAX_ECHO).is_some() {
        out.push('…');
    }
    out
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.aws_error_type(), self.message())
    }
}

impl std::error::Error for SigV4Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_and_messages() {
        let cases = [
            (
                SigV4Error::Missing,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ),
            (
                SigV4Error::incomplete("bad header"),
                "IncompleteSignatureException",
                "bad header",
            ),
            (
                SigV4Error::invalid("mismatch"),
                "InvalidSignatureException",
                "mismatch",
            ),
        ];
        for (err, ty, msg) in cases {
            assert_eq!(err.aws_error_type(), ty);
            assert_eq!(err.message(), msg);
            assert_eq!(err.to_string(), format!("{ty}: {msg}"));
        }
    }

    #[test]
    fn quoted_request_text_is_short_and_printable() {
        assert_eq!(shown("x-foo"), "x-foo");
        assert_eq!(shown("caf\u{e9}\n"), "caf??");
        let long = shown(&"a".repeat(10_000));
        assert_eq!(long, format!("{}…", "a".repeat(64)));
    }
}
