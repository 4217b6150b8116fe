//! Properties on arbitrary input: parsing, verifying and canonicalising never panic, every
//! refusal is a short SigV4Error message, and the canonical forms only use the characters
//! SigV4 allows.

use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use crate::canonical::{canonical_query, canonical_uri, normalize_path, QueryEncoding};

/// No refusal grows with the request: what it quotes is cut short.
const MAX_MESSAGE_BYTES: usize = 360;

const NAMES: &[&str] = &[
    "host",
    "x-amz-date",
    "authorization",
    "x-amz-chime-bearer",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "content-type",
];

const PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    "scope",
];

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NAMES).prop_map(str::to_string),
        1 => "[!-~]{1,80}",
    ]
}

/// Short text of any kind, or a long run with none of the separators SigV4 splits on, so
/// that it reaches the messages that quote it.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,40}", "\\PC{0,40}", "[A-Za-z0-9._-]{400,600}"]
}

fn credential() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        (
            "[A-Z0-9]{0,20}",
            prop_oneof![Just("20150830".to_string()), "[0-9]{0,9}"],
            prop_oneof![Just("us-east-1".to_string()), text()],
            prop_oneof![Just("service".to_string()), text()],
            prop_oneof![Just("aws4_request".to_string()), text()],
        )
            .prop_map(|(a, d, r, s, t)| format!("{a}/{d}/{r}/{s}/{t}")),
    ]
}

fn signed_headers() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(header_name(), 0..5).prop_map(|v| v.join(";")),
        text(),
    ]
}

fn amz_date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("20150830T123600Z".to_string()),
        "[0-9]{8}T[0-9]{6}Z",
        text(),
    ]
}

fn authorization() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        (
            credential(),
            signed_headers(),
            prop_oneof!["[0-9a-f]{64}", text()],
        )
            .prop_map(|(c, s, sig)| format!(
                "AWS4-HMAC-SHA256 Credential={c}, SignedHeaders={s}, Signature={sig}"
            )),
    ]
}

/// A raw query: pieces that are SigV4 parameters, percent-encodings (valid or not) or noise.
fn raw_query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        amz_date(),
        credential(),
        signed_headers(),
        "(%[0-9A-Fa-f]{0,2}|[A-Za-z0-9._~+=/-]){0,20}",
    ];
    let piece = prop_oneof![
        (select(PARAMS), value).prop_map(|(k, v)| format!("{k}={v}")),
        "[^&]{0,30}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.join("&"))
}

fn request() -> impl Strategy<Value = OwnedRequest> {
    let header = (header_name(), text());
    (
        prop::option::of(authorization()),
        prop::option::of(amz_date()),
        prop::collection::vec(header, 0..4),
        "(/|%[0-9A-Fa-f]{0,2}|[A-Za-z0-9.:_~-]){0,30}",
        raw_query(),
    )
        .prop_map(|(authz, date, extra, path, query)| {
            let mut headers = vec![("host".to_string(), "example.amazonaws.com".to_string())];
            headers.extend(authz.map(|a| ("Authorization".to_string(), a)));
            headers.extend(date.map(|d| ("X-Amz-Date".to_string(), d)));
            headers.extend(extra);
            OwnedRequest {
                method: "GET".into(),
                path,
                query,
                headers,
                body: Vec::new(),
            }
        })
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_request_is_verified_or_refused_briefly(req in request()) {
        let result = check(&req, &Ctx::new("us-east-1", "service", suite_time()));
        if let Err(e) = result {
            prop_assert!(e.message().len() <= MAX_MESSAGE_BYTES, "{}", e.message());
        }
    }

    #[test]
    fn canonical_forms_use_the_sigv4_alphabet(
        path in prop_oneof!["\\PC{0,60}", "(/|\\.|%[0-9A-Fa-f]{0,2}|[a-z:]){0,30}"],
        query in prop_oneof!["\\PC{0,60}", raw_query()],
    ) {
        let uri = canonical_uri(&path);
        prop_assert!(uri.starts_with('/'), "{uri}");
        prop_assert!(uri.chars().all(|c| is_unreserved(c) || c == '%' || c == '/'), "{uri}");
        let normal = normalize_path(&path);
        prop_assert_eq!(normalize_path(&normal), normal.clone());
        prop_assert!(!normal.contains("//"), "{normal}");
        for encoding in [QueryEncoding::Rfc3986, QueryEncoding::JsUriComponent] {
            let q = canonical_query(&query, false, encoding);
            prop_assert!(
                q.chars().all(|c| is_unreserved(c) || "%=&!'()*".contains(c)),
                "{q}"
            );
            let pairs: Vec<&str> = q.split('&').collect();
            prop_assert!(q.is_empty() || pairs.iter().all(|p| p.contains('=')), "{q}");
        }
        let strict = canonical_query(&query, false, QueryEncoding::Rfc3986);
        prop_assert!(!strict.contains(['!', '\'', '(', ')', '*']), "{strict}");
    }

    #[test]
    fn signed_values_that_are_not_visible_ascii_are_named(
        name in "x-[a-z]{1,10}",
        before in "[ -~]{0,10}",
        odd in "[^ -~\t]",
        after in "[ -~]{0,10}",
    ) {
        let value = format!("{before}{odd}{after}");
        let mut req = OwnedRequest::from_http_text(
            "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\n",
        );
        req.set_header(&name, &value);
        req.set_header(
            "Authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date;{name}, Signature={}",
                "0".repeat(64)
            ),
        );
        let result = req.with_parts(|p| parse(p).map(drop));
        match result {
            Err(SigV4Error::Incomplete(m)) => prop_assert_eq!(
                m,
                format!(
                    "Header '{name}' listed in SignedHeaders has a value that is not visible \
                     ASCII; only visible ASCII characters, spaces and tabs can be signed."
                )
            ),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn a_tab_inside_a_signed_value_is_allowed() {
    let mut req = OwnedRequest::from_http_text(
        "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\n",
    );
    req.set_header("x-tabbed", "a\tb");
    req.set_header(
        "Authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date;x-tabbed, Signature={}",
            "0".repeat(64)
        ),
    );
    let parsed = req.with_parts(|p| parse(p).map(drop));
    assert!(parsed.is_ok(), "{parsed:?}");
}
