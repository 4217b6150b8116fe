//! What `parse` accepts and refuses, one line per case.

use super::{Outcome, OutcomeAssert, OwnedRequest};
use crate::{parse, SigV4Error, SignatureForm};

const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn header_request(authorization: &str) -> OwnedRequest {
    OwnedRequest {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![
            ("Host".into(), "example.amazonaws.com".into()),
            ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ("Authorization".into(), authorization.into()),
        ],
        body: vec![],
    }
}

fn parse_outcome(req: &OwnedRequest) -> Result<(), SigV4Error> {
    req.with_parts(|parts| parse(parts).map(|_| ()))
}

#[test]
fn authorization_header_cases() {
    use Outcome::*;
    let good_cred = "Credential=AKIDEXAMPLE/20150830/us-east-1/chime/aws4_request";
    let cases: Vec<(String, Outcome, &str)> = vec![
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}"), Ok, ""),
        (format!("AWS4-HMAC-SHA256 {good_cred},SignedHeaders=host;x-amz-date,Signature={SIG}"), Ok, ""),
        (format!("  AWS4-HMAC-SHA256   {good_cred} ,  SignedHeaders=host;x-amz-date ,Signature={}  ", SIG.to_uppercase()), Ok, ""),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=Host;X-Amz-Date, Signature={SIG}"), Ok, ""),
        (String::new(), Incomplete, "only the AWS4-HMAC-SHA256 algorithm"),
        ("Bearer abc".into(), Incomplete, "only the AWS4-HMAC-SHA256 algorithm"),
        (format!("AWS4-HMAC-SHA1 {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "only the AWS4-HMAC-SHA256"),
        (format!("AWS4-ECDSA-P256-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "only the AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA256".into(), Incomplete, "requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires 'Signature' parameter."),
        (format!("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "requires 'Credential' parameter."),
        (format!("AWS4-HMAC-SHA256 {good_cred}, Signature={SIG}"), Incomplete, "requires 'SignedHeaders' parameter."),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date"), Incomplete, "requires 'Signature' parameter."),
        (format!("AWS4-HMAC-SHA256 {good_cred}, {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "more than one 'Credential'"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}, Extra=1"), Incomplete, "unknown component 'Extra'"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders, Signature={SIG}"), Incomplete, "'Key=Value'"),
        (format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/chime, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "Credential should be of the form"),
        (format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/chime/aws4_request/x, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "Credential should be of the form"),
        (format!("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/chime/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "Credential should be of the form"),
        (format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/chime/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "yyyymmdd"),
        (format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/chime/aws4_requests, SignedHeaders=host;x-amz-date, Signature={SIG}"), Incomplete, "not 'aws4_requests'"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;;x-amz-date, Signature={SIG}"), Incomplete, "SignedHeaders must be"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date;host, Signature={SIG}"), Incomplete, "more than once"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=x-amz-date, Signature={SIG}"), Incomplete, "'host'"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host, Signature={SIG}"), Incomplete, "'x-amz-date'"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date;x-foo, Signature={SIG}"), Incomplete, "'x-foo' is listed in SignedHeaders but is not present"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={}", &SIG[..63]), Incomplete, "64 hexadecimal"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={SIG}0"), Incomplete, "64 hexadecimal"),
        (format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature={}g", &SIG[..63]), Incomplete, "64 hexadecimal"),
    ];
    let mut failures = Vec::new();
    for (authorization, expected, fragment) in &cases {
        let result = parse_outcome(&header_request(authorization));
        let message = result
            .as_ref()
            .err()
            .map(|e| e.message())
            .unwrap_or_default();
        if Outcome::of(&result) != *expected || !message.contains(fragment) {
            failures.push(format!(
                "{authorization:?}: expected {expected:?} with {fragment:?}, got {result:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parsed_header_fields() {
    let req = header_request(&format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-west-1/chime/aws4_request, \
         SignedHeaders=Host;X-Amz-Date, Signature={SIG}"
    ));
    let auth = req.with_parts(parse).unwrap();
    assert_eq!(auth.access_key_id, "AKID");
    assert_eq!(auth.scope_date, "20150830");
    assert_eq!(auth.region, "eu-west-1");
    assert_eq!(auth.service, "chime");
    assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
    assert_eq!(auth.request_time, super::suite_time());
    assert_eq!(auth.amz_date, "20150830T123600Z");
    assert_eq!(auth.security_token, None);
    assert_eq!(auth.form, SignatureForm::Header);
    assert_eq!(
        auth.credential_scope(),
        "20150830/eu-west-1/chime/aws4_request"
    );
    assert_eq!(hex::encode(auth.signature), SIG);
}

#[test]
fn date_header_cases() {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/chime/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={SIG}"
    );
    let mut req = header_request(&auth);
    req.remove_header("x-amz-date");
    parse_outcome(&req).assert_incomplete_containing("'X-Amz-Date' header");
    req.set_header("Date", "Sun, 30 Aug 2015 12:36:00 GMT");
    parse_outcome(&req).assert_incomplete_containing("'X-Amz-Date' header");
    req.set_header("X-Amz-Date", "20150830T12360Z");
    parse_outcome(&req).assert_incomplete_containing("not a valid date");
    req.set_header("X-Amz-Date", "20150830T123600Z");
    req.headers
        .push(("x-amz-date".into(), "20150830T123600Z".into()));
    parse_outcome(&req).assert_incomplete_containing("more than one 'x-amz-date'");
}

#[test]
fn no_authentication_is_missing() {
    for query in ["", "a=b", "X-Amz-Date=20150830T123600Z&X-Amz-Expires=10"] {
        let mut req = header_request("");
        req.remove_header("authorization");
        req.query = query.into();
        assert_eq!(parse_outcome(&req), Err(SigV4Error::Missing), "{query:?}");
    }
}

#[test]
fn presigned_query_cases() {
    use Outcome::*;
    let cred = "X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fchime%2Faws4_request";
    let rest = "X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host";
    let base = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&{cred}&{rest}&X-Amz-Expires=10&X-Amz-Signature={SIG}"
    );
    let cases: Vec<(String, Outcome, &str)> = vec![
        (base.clone(), Ok, ""),
        (format!("{base}&X-Amz-Security-Token=tok%2Ben"), Ok, ""),
        (
            base.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""),
            Incomplete,
            "missing: X-Amz-Algorithm.",
        ),
        (
            base.replace("&X-Amz-Expires=10", ""),
            Incomplete,
            "missing: X-Amz-Expires.",
        ),
        (
            base.replace(&format!("&X-Amz-Signature={SIG}"), ""),
            Incomplete,
            "missing: X-Amz-Signature.",
        ),
        (
            base.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            Incomplete,
            "X-Amz-Algorithm only supports",
        ),
        (
            base.replace("X-Amz-Expires=10", "X-Amz-Expires=604801"),
            Incomplete,
            "604800",
        ),
        (
            base.replace("X-Amz-Expires=10", "X-Amz-Expires=604800"),
            Ok,
            "",
        ),
        (
            base.replace("X-Amz-Expires=10", "X-Amz-Expires=-1"),
            Incomplete,
            "X-Amz-Expires",
        ),
        (
            base.replace("X-Amz-Expires=10", "X-Amz-Expires=+10"),
            Incomplete,
            "X-Amz-Expires",
        ),
        (
            base.replace("X-Amz-Date=20150830T123600Z", "X-Amz-Date=yesterday"),
            Incomplete,
            "not a valid date",
        ),
        (
            base.replace("aws4_request", "aws4"),
            Incomplete,
            "valid terminator",
        ),
        (
            base.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date"),
            Incomplete,
            "'host'",
        ),
        (
            format!("{base}&X-Amz-Date=20150830T123600Z"),
            Incomplete,
            "more than one 'X-Amz-Date'",
        ),
        (
            base.replace("X-Amz-Credential=AKID", "X-Amz-Credential=%FF"),
            Incomplete,
            "not valid UTF-8",
        ),
    ];
    let mut failures = Vec::new();
    for (query, expected, fragment) in &cases {
        let mut req = header_request("");
        req.remove_header("authorization");
        req.query = query.clone();
        let result = parse_outcome(&req);
        let message = result
            .as_ref()
            .err()
            .map(|e| e.message())
            .unwrap_or_default();
        if Outcome::of(&result) != *expected || !message.contains(fragment) {
            failures.push(format!(
                "{query:?}: expected {expected:?} with {fragment:?}, got {result:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let mut req = header_request("");
    req.remove_header("authorization");
    req.query = format!("{base}&X-Amz-Security-Token=tok%2Ben");
    let auth = req.with_parts(parse).unwrap();
    assert_eq!(auth.security_token.as_deref(), Some("tok+en"));
    assert_eq!(auth.access_key_id, "AKID");
    assert_eq!(auth.form, SignatureForm::Presigned { expires_secs: 10 });
}
