//! AWS's published SigV4 vectors.
//!
//! `aws_sig_v4_suite.txt` holds cases of the AWS signing test suite byte for byte (see its
//! header). Each is checked twice: our canonical request must equal the suite's, and the signed
//! request must verify (and fail with another secret).
//!
//! About URI encoding: the suite writes some request lines unencoded (`GET /example space/`,
//! `GET /ሴ`), and its canonical URI is that path encoded once. Passing such a path verbatim as
//! `raw_path` gives exactly that with our rule (encode what was received, once more), so these
//! cases apply as they are. Over the wire a client would send `%20` and a non-S3 service would
//! then sign `%2520`; that double encoding is what the `double-url-encode` and
//! `double-encode-path` cases pin. The `*-unnormalized` cases are left out: they are for S3,
//! which does not normalize paths. `get-header-value-multiline` is left out: obsolete line
//! folding cannot reach us through an HTTP/1.1 parser. The presigned form of
//! `post-sts-header-after` is left out: it adds the session token after signing, which no
//! client of ours does (its header form is kept: there the token is simply an unsigned header).

use super::{check, suite_time, Ctx, OutcomeAssert, OwnedRequest, EXAMPLE_SECRET};
use crate::canonical::{canonical_query, canonical_uri, QueryEncoding};
use crate::verify::{canonical_request, payload_hash};
use crate::{parse, SigV4Error, SignatureForm};

const SUITE: &str = include_str!("aws_sig_v4_suite.txt");

/// Cases checked in both the header and the presigned (query) form.
const BOTH_FORMS: &[&str] = &[
    "get-vanilla",
    "get-vanilla-query",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-empty-query-key",
    "get-utf8",
    "get-space-normalized",
    "get-unreserved",
    "get-slash-normalized",
    "get-slashes-normalized",
    "get-slash-dot-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-header-key-duplicate",
    "get-header-value-order",
    "get-header-value-trim",
    "get-vanilla-with-session-token",
    "post-vanilla",
    "post-vanilla-query",
    "post-vanilla-empty-query-value",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    "post-sts-header-before",
];

/// Cases checked in the header form only (see the module comment).
const HEADER_ONLY: &[&str] = &["post-sts-header-after"];

/// The exact contents of `<case>/<file>.txt`.
fn suite_file(case: &str, file: &str) -> &'static str {
    for chunk in SUITE.split("\n@@@ ").skip(1) {
        let (tag, content) = chunk.split_once('\n').unwrap_or((chunk, ""));
        if tag.split_once(' ') == Some((case, file)) {
            return content;
        }
    }
    panic!("{case}/{file} is not in aws_sig_v4_suite.txt");
}

/// Checks one signed request of the suite; returns a description of what went wrong.
fn check_vector(case: &str, form: &str) -> Result<(), String> {
    let signed = suite_file(case, &format!("{form}-signed-request"));
    let expected_creq = suite_file(case, &format!("{form}-canonical-request"));
    let req = OwnedRequest::from_http_text(signed);
    let ctx = Ctx::new("us-east-1", "service", suite_time());

    let creq = req.with_parts(|parts| -> Result<String, SigV4Error> {
        let auth = parse(parts)?;
        let presigned = matches!(auth.form, SignatureForm::Presigned { .. });
        assert_eq!(
            presigned,
            form == "query",
            "{case} {form}: wrong form detected"
        );
        let query = canonical_query(parts.raw_query, presigned, QueryEncoding::Rfc3986);
        canonical_request(parts, &auth, &query, &payload_hash(parts, &auth)?)
    });
    match creq {
        Ok(creq) if creq == expected_creq => {}
        Ok(creq) => return Err(format!("canonical request\n{creq}\n!=\n{expected_creq}")),
        Err(e) => return Err(format!("canonicalizing: {e}")),
    }
    check(&req, &ctx).map_err(|e| format!("verify: {e}"))?;
    let wrong = Ctx {
        secret: format!("{EXAMPLE_SECRET}x"),
        ..ctx
    };
    match check(&req, &wrong) {
        Err(SigV4Error::Invalid(_)) => Ok(()),
        other => Err(format!("with a wrong secret: {other:?}")),
    }
}

#[test]
fn aws_signing_test_suite() {
    let mut runs = Vec::new();
    for case in BOTH_FORMS {
        runs.push((*case, "header"));
        runs.push((*case, "query"));
    }
    for case in HEADER_ONLY {
        runs.push((*case, "header"));
    }
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|(case, form)| {
            check_vector(case, form)
                .err()
                .map(|e| format!("{case} ({form}): {e}"))
        })
        .collect();
    assert_eq!(runs.len(), 2 * 29 + 1);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Non-S3 double encoding, from the suite's two cases for it: an ARN with `%3A` in a Lambda
/// path and an API Gateway connection id with `%3D` (plus a raw `@`).
#[test]
fn double_encoding_vectors() {
    for case in ["double-url-encode", "double-encode-path"] {
        let req = OwnedRequest::from_http_text(suite_file(case, "header-signed-request"));
        let expected = suite_file(case, "header-canonical-request").lines().nth(1);
        assert_eq!(Some(canonical_uri(&req.path).as_str()), expected, "{case}");
    }
    // double-url-encode is a complete vector (example secret, us-east-2, lambda).
    let req =
        OwnedRequest::from_http_text(suite_file("double-url-encode", "header-signed-request"));
    let now = crate::time::parse_amz_date("20210511T154045Z").unwrap();
    check(&req, &Ctx::new("us-east-2", "lambda", now)).unwrap();
}

/// The two signatures quoted in the AWS documentation, written out by hand so that they do not
/// depend on the data file: get-vanilla, and the IAM ListUsers example of the SigV4 guide.
#[test]
fn published_signatures() {
    let get_vanilla = "GET / HTTP/1.1\n\
        Host:example.amazonaws.com\n\
        X-Amz-Date:20150830T123600Z\n\
        Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
        SignedHeaders=host;x-amz-date, \
        Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n\n";
    let iam_list_users = "GET /?Action=ListUsers&Version=2010-05-08 HTTP/1.1\n\
        Host:iam.amazonaws.com\n\
        Content-Type:application/x-www-form-urlencoded; charset=utf-8\n\
        X-Amz-Date:20150830T123600Z\n\
        Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date, \
        Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\n\n";
    for (text, service) in [(get_vanilla, "service"), (iam_list_users, "iam")] {
        let ctx = Ctx::new("us-east-1", service, suite_time());
        let req = OwnedRequest::from_http_text(text);
        check(&req, &ctx).unwrap();

        // Flip the last hex digit of the signature: refused as a mismatch.
        let mut tampered = req.clone();
        let auth = tampered.header("authorization").unwrap().to_owned();
        let flipped = if auth.ends_with('0') { '1' } else { '0' };
        let auth = format!("{}{flipped}", &auth[..auth.len() - 1]);
        tampered.set_header("Authorization", &auth);
        check(&tampered, &ctx).assert_invalid_containing("does not match the signature");
    }
}
