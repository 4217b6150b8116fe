//! Cross-checks against the reference signer (the aws-sigv4 crate aws-sdk-rust signs with):
//! Chime-shaped requests it signs must verify, and every mutation of them must be refused with
//! the right error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningParams, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use sha2::{Digest, Sha256};

use super::{check, Ctx, Outcome, OutcomeAssert, OwnedRequest, EXAMPLE_AKID, EXAMPLE_SECRET};
use crate::{parse, SignatureForm};

const API_HOST: &str = "messaging-chime.us-east-1.amazonaws.com";
const WS_HOST: &str = "abc123.us-east-1.ws-messaging.chime.aws";
const CHANNEL: &str =
    "arn%3Aaws%3Achime%3Aus-east-1%3A000000000000%3Aapp-instance%2Fabc%2Fchannel%2Fdef";
const USER: &str = "arn%3Aaws%3Achime%3Aus-east-1%3A000000000000%3Aapp-instance%2Fabc%2Fuser%2Fu1";
const BEARER: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/abc/user/u1";
const JSON_BODY: &str = r#"{"MemberArn":"arn:aws:chime:us-east-1:000000000000:app-instance/abc/user/u2","Type":"DEFAULT"}"#;

/// 2023-11-14T22:13:20Z.
fn signed_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// What to sign, in the shape an SDK produces.
struct Spec {
    method: &'static str,
    host: &'static str,
    path_and_query: String,
    headers: Vec<(&'static str, String)>,
    body: SignableBody<'static>,
    body_bytes: &'static [u8],
    location: SignatureLocation,
    session_token: Option<&'static str>,
}

impl Spec {
    fn header_form(method: &'static str, path_and_query: String) -> Self {
        Spec {
            method,
            host: API_HOST,
            path_and_query,
            headers: vec![("x-amz-chime-bearer", BEARER.to_owned())],
            body: SignableBody::Bytes(b""),
            body_bytes: b"",
            location: SignatureLocation::Headers,
            session_token: None,
        }
    }
}

/// Signs with aws-sigv4 (service "chime", us-east-1, example keys) and returns the request as
/// the server would receive it.
fn sdk_sign(spec: Spec) -> OwnedRequest {
    let identity: Identity = Credentials::new(
        EXAMPLE_AKID,
        EXAMPLE_SECRET,
        spec.session_token.map(str::to_owned),
        None,
        "belfry-sigv4-tests",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = spec.location;
    if spec.location == SignatureLocation::QueryParams {
        settings.expires_in = Some(Duration::from_secs(10));
    }
    let params: SigningParams = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("chime")
        .time(signed_at())
        .settings(settings)
        .build()
        .unwrap()
        .into();

    let url = format!("https://{}{}", spec.host, spec.path_and_query);
    let mut headers: Vec<(&str, &str)> = vec![("host", spec.host)];
    headers.extend(spec.headers.iter().map(|(n, v)| (*n, v.as_str())));
    let signable = SignableRequest::new(
        spec.method,
        url.as_str(),
        headers.iter().copied(),
        spec.body,
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();

    let mut builder = http::Request::builder().method(spec.method).uri(&url);
    for (name, value) in &headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    OwnedRequest {
        method: spec.method.to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect(),
        body: spec.body_bytes.to_vec(),
    }
}

/// The requests under test, signed once each.
fn scenario(name: &str) -> OwnedRequest {
    let spec = match name {
        // ListChannelMemberships: ARN label in the path.
        "memberships" => Spec::header_form(
            "GET",
            format!("/channels/{CHANNEL}/memberships?max-results=5&next-token=ab%2Bcd%3D%3D"),
        ),
        // ListChannelMembershipsForAppInstanceUser: literal scope and an ARN in the query.
        "scope-query" => Spec::header_form(
            "GET",
            format!("/channels?scope=app-instance-user-memberships&app-instance-user-arn={USER}&max-results=5"),
        ),
        // CreateChannelMembership: JSON body.
        "json-post" => Spec {
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("x-amz-chime-bearer", BEARER.to_owned()),
            ],
            body: SignableBody::Bytes(JSON_BODY.as_bytes()),
            body_bytes: JSON_BODY.as_bytes(),
            ..Spec::header_form("POST", format!("/channels/{CHANNEL}/memberships"))
        },
        // The same, with the body hash sent and signed as a header.
        "json-post-sha-header" => Spec {
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("x-amz-chime-bearer", BEARER.to_owned()),
                ("x-amz-content-sha256", hex::encode(Sha256::digest(JSON_BODY))),
            ],
            body: SignableBody::Bytes(JSON_BODY.as_bytes()),
            body_bytes: JSON_BODY.as_bytes(),
            ..Spec::header_form("POST", format!("/channels/{CHANNEL}/memberships"))
        },
        // Body deliberately not covered by the signature.
        "unsigned-payload" => Spec {
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("x-amz-chime-bearer", BEARER.to_owned()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD".to_owned()),
            ],
            body: SignableBody::UnsignedPayload,
            body_bytes: JSON_BODY.as_bytes(),
            ..Spec::header_form("POST", format!("/channels/{CHANNEL}/memberships"))
        },
        // Temporary credentials: x-amz-security-token is sent and signed.
        "session-token" => Spec {
            session_token: Some("FQoGZXIvYXdzEXAMPLE/token+value=="),
            ..Spec::header_form("GET", format!("/channels/{CHANNEL}"))
        },
        // A developer call without bearer (e.g. DescribeChannel by an admin key).
        "no-bearer" => Spec {
            headers: vec![],
            ..Spec::header_form("GET", format!("/channels/{CHANNEL}"))
        },
        // The websocket connect URL.
        "presigned-connect" => Spec {
            host: WS_HOST,
            headers: vec![],
            location: SignatureLocation::QueryParams,
            ..Spec::header_form("GET", format!("/connect?userArn={USER}&sessionId=1234567"))
        },
        other => panic!("unknown scenario {other}"),
    };
    sdk_sign(spec)
}

fn shift(by: Duration, later: bool) -> SystemTime {
    if later {
        signed_at() + by
    } else {
        signed_at() - by
    }
}

type Mutation = fn(&mut OwnedRequest, &mut Ctx);

/// Replaces the first `from` in the query string.
fn in_query(req: &mut OwnedRequest, from: &str, to: &str) {
    assert!(req.query.contains(from), "{from} not in {}", req.query);
    req.query = req.query.replacen(from, to, 1);
}

/// Replaces the first `from` in the Authorization header.
fn in_authorization(req: &mut OwnedRequest, from: &str, to: &str) {
    let auth = req.header("authorization").unwrap().to_owned();
    assert!(auth.contains(from), "{from} not in {auth}");
    req.set_header("authorization", &auth.replacen(from, to, 1));
}

/// Flips the last hex digit of the claimed signature, wherever it is.
fn tamper_signature(req: &mut OwnedRequest, _: &mut Ctx) {
    let flip = |s: &str| {
        let last = if s.ends_with('0') { '1' } else { '0' };
        format!("{}{last}", &s[..s.len() - 1])
    };
    match req.header("authorization") {
        Some(auth) => {
            let auth = flip(auth);
            req.set_header("authorization", &auth);
        }
        None => {
            let (rest, sig) = req.query.split_once("X-Amz-Signature=").unwrap();
            assert_eq!(sig.len(), 64);
            req.query = format!("{rest}X-Amz-Signature={}", flip(sig));
        }
    }
}

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, &'static str, Mutation, Outcome, &'static str)> {
    use Outcome::*;
    vec![
        // scenario, mutation, how, expected, message fragment ("" = any)
        ("memberships", "as signed", |_, _| {}, Ok, ""),
        ("memberships", "unsigned extra headers, names in other case", |r, _| {
            r.headers.push(("User-Agent".into(), "aws-sdk-rust".into()));
            r.headers.push(("X-Amzn-Trace-Id".into(), "Root=1".into()));
            for (n, _) in &mut r.headers { *n = n.to_ascii_uppercase(); }
        }, Ok, ""),
        ("memberships", "now = signed + 5 min", |_, c| c.now = shift(Duration::from_secs(300), true), Ok, ""),
        ("memberships", "now = signed - 5 min", |_, c| c.now = shift(Duration::from_secs(300), false), Ok, ""),
        ("memberships", "now = signed + 6 min", |_, c| c.now = shift(Duration::from_secs(360), true), Invalid, "Signature expired: 20231114T221320Z is now earlier than 20231114T221420Z (20231114T221920Z - 5 min.)"),
        ("memberships", "now = signed - 6 min", |_, c| c.now = shift(Duration::from_secs(360), false), Invalid, "Signature not yet current: 20231114T221320Z is still later than 20231114T221220Z (20231114T220720Z + 5 min.)"),
        ("memberships", "changed path", |r, _| r.path = r.path.replace("channel%2Fdef", "channel%2Fdeg"), Invalid, "does not match the signature"),
        ("memberships", "path with %2F decoded", |r, _| r.path = r.path.replace("%2F", "/"), Invalid, "does not match the signature"),
        ("memberships", "changed query value", |r, _| in_query(r, "max-results=5", "max-results=6"), Invalid, "does not match the signature"),
        ("memberships", "extra unsigned query param", |r, _| r.query.push_str("&extra=1"), Invalid, "does not match the signature"),
        ("memberships", "changed bearer", |r, _| r.set_header("x-amz-chime-bearer", &BEARER.replace("u1", "u2")), Invalid, "does not match the signature"),
        ("memberships", "bearer present but unsigned", |r, _| in_authorization(r, ";x-amz-chime-bearer", ""), Incomplete, "'x-amz-chime-bearer'"),
        ("memberships", "host unsigned", |r, _| in_authorization(r, "SignedHeaders=host;", "SignedHeaders="), Incomplete, "'host'"),
        ("memberships", "x-amz-date unsigned", |r, _| in_authorization(r, ";x-amz-date", ""), Incomplete, "'x-amz-date'"),
        ("memberships", "x-amz-date header missing", |r, _| r.remove_header("x-amz-date"), Incomplete, "X-Amz-Date"),
        ("memberships", "x-amz-date unparseable", |r, _| r.set_header("x-amz-date", "2023-11-14T22:13:20Z"), Incomplete, "X-Amz-Date"),
        ("memberships", "scope date differs from x-amz-date", |r, _| in_authorization(r, "/20231114/", "/20231113/"), Invalid, "'20231113' != '20231114'"),
        ("memberships", "wrong secret", |_, c| c.secret.push('x'), Invalid, "does not match the signature"),
        ("memberships", "wrong region in policy", |_, c| c.region = "eu-west-1".into(), Invalid, "Credential should be scoped to a valid region, not 'us-east-1'."),
        ("memberships", "wrong service in policy", |_, c| c.service = "execute-api".into(), Invalid, "scoped to correct service"),
        ("memberships", "tampered signature", tamper_signature, Invalid, "does not match the signature"),
        ("memberships", "missing Authorization", |r, _| r.remove_header("authorization"), Missing, ""),
        ("memberships", "garbage Authorization", |r, _| r.set_header("authorization", "Bearer abc.def"), Incomplete, ""),
        ("memberships", "two Authorization headers", |r, _| {
            let auth = r.header("authorization").unwrap().to_owned();
            r.headers.push(("Authorization".into(), auth));
        }, Incomplete, ""),
        ("scope-query", "as signed", |_, _| {}, Ok, ""),
        ("scope-query", "query in another order", |r, _| {
            let mut pieces: Vec<&str> = r.query.split('&').collect();
            pieces.reverse();
            r.query = pieces.join("&");
        }, Ok, ""),
        ("scope-query", "changed scope", |r, _| in_query(r, "scope=app-instance-user-memberships", "scope=app-instance-user-moderated-channels"), Invalid, "does not match the signature"),
        ("scope-query", "changed ARN in query", |r, _| in_query(r, "user%2Fu1", "user%2Fu2"), Invalid, "does not match the signature"),
        ("scope-query", "extra unsigned query param", |r, _| r.query.push_str("&next-token=x"), Invalid, "does not match the signature"),
        ("json-post", "as signed", |_, _| {}, Ok, ""),
        ("json-post", "changed body", |r, _| r.body = JSON_BODY.replace("u2", "u3").into_bytes(), Invalid, "does not match the signature"),
        ("json-post", "changed content-type", |r, _| r.set_header("content-type", "text/plain"), Invalid, "does not match the signature"),
        ("json-post", "x-amz-content-sha256 not matching body", |r, _| r.headers.push(("x-amz-content-sha256".into(), hex::encode(Sha256::digest(b"other")))), Invalid, "The provided 'x-amz-content-sha256' header does not match what was computed."),
        ("json-post-sha-header", "as signed", |_, _| {}, Ok, ""),
        ("json-post-sha-header", "changed body", |r, _| r.body.push(b' '), Invalid, "'x-amz-content-sha256' header does not match"),
        ("unsigned-payload", "as signed", |_, _| {}, Ok, ""),
        ("unsigned-payload", "changed body (not covered)", |r, _| r.body.push(b' '), Ok, ""),
        ("unsigned-payload", "hash header removed", |r, _| r.remove_header("x-amz-content-sha256"), Incomplete, "'x-amz-content-sha256'"),
        ("session-token", "as signed", |_, _| {}, Ok, ""),
        ("session-token", "changed token", |r, _| r.set_header("x-amz-security-token", "other"), Invalid, "does not match the signature"),
        ("no-bearer", "as signed", |_, _| {}, Ok, ""),
        ("no-bearer", "bearer added, unsigned", |r, _| r.headers.push(("X-Amz-Chime-Bearer".into(), BEARER.into())), Incomplete, "'x-amz-chime-bearer'"),
        ("presigned-connect", "as signed", |_, _| {}, Ok, ""),
        ("presigned-connect", "now = signed + 10 s + 5 min", |_, c| c.now = shift(Duration::from_secs(310), true), Ok, ""),
        ("presigned-connect", "now = signed - 5 min", |_, c| c.now = shift(Duration::from_secs(300), false), Ok, ""),
        ("presigned-connect", "now past expiry + skew", |_, c| c.now = shift(Duration::from_secs(311), true), Invalid, "Signature expired"),
        ("presigned-connect", "now before signing - skew", |_, c| c.now = shift(Duration::from_secs(301), false), Invalid, "Signature not yet current"),
        ("presigned-connect", "changed userArn", |r, _| in_query(r, "user%2Fu1", "user%2Fu2"), Invalid, "does not match the signature"),
        ("presigned-connect", "changed expiry", |r, _| in_query(r, "X-Amz-Expires=10", "X-Amz-Expires=3600"), Invalid, "does not match the signature"),
        ("presigned-connect", "extra unsigned query param", |r, _| r.query.push_str("&prefetch-on=connect"), Invalid, "does not match the signature"),
        ("presigned-connect", "changed host", |r, _| r.set_header("host", "evil.example.com"), Invalid, "does not match the signature"),
        ("presigned-connect", "wrong secret", |_, c| c.secret = "another-secret".into(), Invalid, "does not match the signature"),
        ("presigned-connect", "wrong region in policy", |_, c| c.region = "eu-west-1".into(), Invalid, "not 'us-east-1'"),
        ("presigned-connect", "tampered signature", tamper_signature, Invalid, "does not match the signature"),
        ("presigned-connect", "X-Amz-Signature removed", |r, _| r.query = r.query.split('&').filter(|p| !p.starts_with("X-Amz-Signature=")).collect::<Vec<_>>().join("&"), Incomplete, "X-Amz-Signature"),
        ("presigned-connect", "all X-Amz params removed", |r, _| r.query = r.query.split('&').filter(|p| !p.starts_with("X-Amz-")).collect::<Vec<_>>().join("&"), Missing, ""),
        ("presigned-connect", "Authorization header as well", |r, _| r.headers.push(("Authorization".into(), "AWS4-HMAC-SHA256 Credential=x".into())), Incomplete, "Only one auth mechanism"),
    ]
}

#[test]
fn aws_sigv4_signed_requests_and_their_mutations() {
    let mut failures = Vec::new();
    for (name, what, mutate, expected, fragment) in cases() {
        let mut req = scenario(name);
        let mut ctx = Ctx::new("us-east-1", "chime", signed_at());
        mutate(&mut req, &mut ctx);
        let result = check(&req, &ctx);
        let message = result
            .as_ref()
            .err()
            .map(|e| e.message())
            .unwrap_or_default();
        if Outcome::of(&result) != expected || !message.contains(fragment) {
            failures.push(format!(
                "{name} / {what}: expected {expected:?} with {fragment:?}, got {result:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What parse reports for the presigned connect URL, field by field.
#[test]
fn presigned_connect_parses() {
    let req = scenario("presigned-connect");
    let auth = req.with_parts(parse).unwrap();
    assert_eq!(auth.access_key_id, EXAMPLE_AKID);
    assert_eq!(auth.scope_date, "20231114");
    assert_eq!(auth.region, "us-east-1");
    assert_eq!(auth.service, "chime");
    assert_eq!(auth.signed_headers, ["host"]);
    assert_eq!(auth.request_time, signed_at());
    assert_eq!(auth.amz_date, "20231114T221320Z");
    assert_eq!(auth.security_token, None);
    assert_eq!(auth.form, SignatureForm::Presigned { expires_secs: 10 });
}

/// Our presigner signs the connect URL exactly as aws-sigv4 does: same parameters, same
/// signature, byte for byte.
#[test]
fn presign_matches_aws_sigv4() {
    let sdk = scenario("presigned-connect");
    let param = |query: &str, name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")[..]))
            .map(str::to_owned)
    };
    let signer = crate::Signer {
        access_key_id: EXAMPLE_AKID.into(),
        secret: crate::SecretKey::new(EXAMPLE_SECRET),
        region: "us-east-1".into(),
        service: "chime".into(),
    };
    let ours = signer
        .presign(
            "GET",
            WS_HOST,
            "/connect",
            &[("userArn", BEARER), ("sessionId", "1234567")],
            Duration::from_secs(10),
            signed_at(),
        )
        .unwrap();
    assert!(param(&sdk.query, "X-Amz-Signature").is_some());
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "userArn",
        "sessionId",
        "X-Amz-Signature",
    ] {
        assert_eq!(
            param(&ours, name).map(|v| v.to_ascii_uppercase()),
            param(&sdk.query, name).map(|v| v.to_ascii_uppercase()),
            "{name}"
        );
    }
}

#[test]
fn session_token_is_reported_and_redacted_in_debug() {
    let req = scenario("session-token");
    let auth = req.with_parts(parse).unwrap();
    let token = "FQoGZXIvYXdzEXAMPLE/token+value==";
    assert_eq!(auth.security_token.as_deref(), Some(token));
    assert_eq!(auth.form, SignatureForm::Header);
    assert!(auth
        .signed_headers
        .contains(&"x-amz-security-token".to_owned()));
    assert!(!format!("{auth:?}").contains("FQoG"));
}

/// amazon-chime-sdk-js signs its connect URL over a canonical query built with
/// `encodeURIComponent`, which leaves `!'()*` raw, and sends the same string as the URL's query.
/// The canonical request below is written by hand the way that client builds it and signed with
/// aws-sigv4's own primitives; strict verification would encode `(` and fail, so the retry
/// without re-encoding those characters is what accepts it.
#[test]
fn chime_sdk_js_style_presigned_url() {
    let canonical_query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fchime%2Faws4_request\
         &X-Amz-Date=20231114T221320Z&X-Amz-Expires=10&X-Amz-SignedHeaders=host\
         &X-Amzn-User-Agent=Mozilla(5.0)!*&sessionId=42&userArn={USER}"
    );
    let canonical_request = format!(
        "GET\n/connect\n{canonical_query}\nhost:{WS_HOST}\n\nhost\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n20231114T221320Z\n20231114/us-east-1/chime/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = v4::generate_signing_key(EXAMPLE_SECRET, signed_at(), "us-east-1", "chime");
    let signature = v4::calculate_signature(key, string_to_sign.as_bytes());
    let mut req = OwnedRequest {
        method: "GET".into(),
        path: "/connect".into(),
        query: format!("{canonical_query}&X-Amz-Signature={signature}"),
        headers: vec![("Host".into(), WS_HOST.into())],
        body: vec![],
    };
    let ctx = Ctx::new("us-east-1", "chime", signed_at());
    check(&req, &ctx).unwrap();

    req.query = req.query.replace("sessionId=42", "sessionId=43");
    check(&req, &ctx).assert_invalid_containing("does not match the signature");
}
