//! The wire layer's errors and their one exhaustive mapping to AWS: HTTP status, the
//! `x-amzn-ErrorType` header SDKs choose the exception class from, and the `{"Code","Message"}`
//! body.

use belfry_core::CoreError;
use belfry_sigv4::SigV4Error;
use http::StatusCode;

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// A refusal or failure from the core.
    Core(CoreError),
    /// The signature was missing, malformed or wrong.
    Signature(SigV4Error),
    /// The access key id is not known.
    UnknownAccessKey,
    /// No operation at this method, path and query.
    UnknownOperation(String),
    /// The body is larger than the server accepts.
    BodyTooLarge(usize),
    /// The body did not arrive within this long.
    RequestTimeout(std::time::Duration),
    /// An AWS operation, by name, that Belfry recognises but does not implement.
    NotImplemented(&'static str),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::Core(e)
    }
}

/// An error ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// HTTP status.
    pub status: StatusCode,
    /// `x-amzn-ErrorType`, the exception shape name.
    pub error_type: &'static str,
    /// Body `Code`: the model's short ErrorCode.
    pub code: &'static str,
    /// Body `Message`.
    pub message: String,
    /// Detail for the log only (internal errors).
    pub log_detail: Option<String>,
}

fn r(status: u16, error_type: &'static str, code: &'static str, message: String) -> Rendered {
    Rendered {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        error_type,
        code,
        message,
        log_detail: None,
    }
}

/// The most bytes of UTF-8 an error `Message` carries, whatever produced it: a message that
/// quotes input must not grow with the input.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Cuts `message` to [`MAX_MESSAGE_BYTES`] on a character boundary, ending it with `…` when cut.
fn cap(mut message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    const ELLIPSIS: &str = "…";
    let mut end = MAX_MESSAGE_BYTES - ELLIPSIS.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(ELLIPSIS);
    message
}

/// At most this many characters of a method and path are named in an UnknownOperation message.
const MAX_ROUTE_ECHO: usize = 64;

/// A short, printable prefix of what did not route (a method and path, or a dispatch key and
/// value): enough for a developer to recognise the request, never a large or unprintable echo.
fn route_excerpt(what: &str) -> String {
    let mut out: String = what
        .chars()
        .take(MAX_ROUTE_ECHO)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if what.chars().nth(MAX_ROUTE_ECHO).is_some() {
        out.push('…');
    }
    out
}

impl ApiError {
    /// The AWS rendering of this error; its `Message` is at most [`MAX_MESSAGE_BYTES`].
    pub fn render(&self) -> Rendered {
        let mut rendered = self.render_uncapped();
        rendered.message = cap(rendered.message);
        rendered
    }

    fn render_uncapped(&self) -> Rendered {
        match self {
            ApiError::Core(e) => match e {
                CoreError::BadRequest(m) => r(400, "BadRequestException", "BadRequest", m.clone()),
                CoreError::Unauthorized(m) => r(
                    401,
                    "UnauthorizedClientException",
                    "Unauthorized",
                    m.clone(),
                ),
                CoreError::Forbidden(m) => r(403, "ForbiddenException", "Forbidden", m.clone()),
                CoreError::NotFound(m) => r(404, "NotFoundException", "NotFound", m.clone()),
                CoreError::Conflict(m) => r(409, "ConflictException", "Conflict", m.clone()),
                CoreError::ResourceLimitExceeded(m) => r(
                    400,
                    "ResourceLimitExceededException",
                    "ResourceLimitExceeded",
                    m.clone(),
                ),
                CoreError::Throttled(m) => {
                    r(429, "ThrottledClientException", "Throttled", m.clone())
                }
                CoreError::ServiceUnavailable(m) => r(
                    503,
                    "ServiceUnavailableException",
                    "ServiceUnavailable",
                    m.clone(),
                ),
                CoreError::Internal(detail) => Rendered {
                    log_detail: Some(detail.clone()),
                    ..r(
                        500,
                        "ServiceFailureException",
                        "ServiceFailure",
                        "The service encountered an internal error.".into(),
                    )
                },
            },
            ApiError::Signature(e) => {
                let code = match e {
                    SigV4Error::Missing => "MissingAuthenticationToken",
                    SigV4Error::Incomplete(_) => "IncompleteSignature",
                    SigV4Error::Invalid(_) => "InvalidSignature",
                };
                r(403, e.aws_error_type(), code, e.message())
            }
            ApiError::UnknownAccessKey => r(
                403,
                "UnrecognizedClientException",
                "UnrecognizedClient",
                "The security token included in the request is invalid.".into(),
            ),
            ApiError::UnknownOperation(what) => r(
                404,
                "UnknownOperationException",
                "UnknownOperation",
                format!("No operation matches {}.", route_excerpt(what)),
            ),
            ApiError::BodyTooLarge(limit) => r(
                413,
                "RequestEntityTooLargeException",
                "RequestEntityTooLarge",
                format!("The request body exceeds the limit of {limit} bytes."),
            ),
            // 501, which no SDK retries: asking again cannot help.
            ApiError::NotImplemented(name) => r(
                501,
                "NotImplementedException",
                "NotImplemented",
                format!("Belfry does not implement {name} yet."),
            ),
            // The code the SDKs' retry classifiers treat as transient.
            ApiError::RequestTimeout(limit) => r(
                408,
                "RequestTimeoutException",
                "RequestTimeout",
                format!(
                    "The request body was not received within {} seconds.",
                    limit.as_secs()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        let cases: &[(ApiError, u16, &str)] = &[
            (
                ApiError::Core(CoreError::bad("x")),
                400,
                "BadRequestException",
            ),
            (
                ApiError::Core(CoreError::Unauthorized("x".into())),
                401,
                "UnauthorizedClientException",
            ),
            (
                ApiError::Core(CoreError::forbidden("x")),
                403,
                "ForbiddenException",
            ),
            (
                ApiError::Core(CoreError::not_found("x")),
                404,
                "NotFoundException",
            ),
            (
                ApiError::Core(CoreError::conflict("x")),
                409,
                "ConflictException",
            ),
            (
                ApiError::Core(CoreError::ResourceLimitExceeded("x".into())),
                400,
                "ResourceLimitExceededException",
            ),
            (
                ApiError::Core(CoreError::Throttled("x".into())),
                429,
                "ThrottledClientException",
            ),
            (
                ApiError::Core(CoreError::ServiceUnavailable("x".into())),
                503,
                "ServiceUnavailableException",
            ),
            (
                ApiError::Core(CoreError::internal("secret detail")),
                500,
                "ServiceFailureException",
            ),
            (
                ApiError::Signature(SigV4Error::Missing),
                403,
                "MissingAuthenticationTokenException",
            ),
            (
                ApiError::UnknownAccessKey,
                403,
                "UnrecognizedClientException",
            ),
            (
                ApiError::UnknownOperation("x".into()),
                404,
                "UnknownOperationException",
            ),
            (
                ApiError::NotImplemented("SearchChannels"),
                501,
                "NotImplementedException",
            ),
            (
                ApiError::BodyTooLarge(1),
                413,
                "RequestEntityTooLargeException",
            ),
            (
                ApiError::RequestTimeout(std::time::Duration::from_secs(1)),
                408,
                "RequestTimeoutException",
            ),
        ];
        for (e, status, ty) in cases {
            let r = e.render();
            assert_eq!((r.status.as_u16(), r.error_type), (*status, *ty));
            assert!(!r.message.contains("secret detail"));
        }
    }

    #[test]
    fn messages_are_capped_on_a_char_boundary() {
        for filler in ["x", "é", "€", "𝄞"] {
            for n in [0, 1, 340, 341, 1023, 1024, 1025, 5000] {
                let long = filler.repeat(n);
                let r = ApiError::Core(CoreError::bad(long.clone())).render();
                assert!(r.message.len() <= MAX_MESSAGE_BYTES, "{filler} x {n}");
                if long.len() <= MAX_MESSAGE_BYTES {
                    assert_eq!(r.message, long);
                } else {
                    assert!(r.message.ends_with('…'), "{filler} x {n}");
                    assert!(long.starts_with(r.message.trim_end_matches('…')));
                }
            }
        }
    }

    #[test]
    fn unknown_operations_name_a_short_printable_prefix() {
        let path = format!("GET /{}\u{1}", "a".repeat(100_000));
        let m = ApiError::UnknownOperation(path).render().message;
        assert!(m.len() < 100, "{m}");
        assert!(m.starts_with("No operation matches GET /aaa"), "{m}");
        let m = ApiError::UnknownOperation("scope=caf\u{e9}\n".into())
            .render()
            .message;
        assert_eq!(m, "No operation matches scope=caf??.");
    }
}
