//! Crate-level tests: AWS's published vectors, cross-checks against the aws-sigv4 signer, and
//! parse refusals. Helpers shared by them live here.

mod parse_cases;
mod props;
mod sdk_cross;
mod suite;

use std::time::{Duration, SystemTime};

use crate::{parse, verify, RequestParts, SecretKey, SigV4Error, VerifyPolicy};

pub(crate) const EXAMPLE_AKID: &str = "AKIDEXAMPLE";
pub(crate) const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A request that owns its parts, so tests can mutate it and then borrow it as [`RequestParts`].
#[derive(Debug, Clone)]
pub(crate) struct OwnedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl OwnedRequest {
    pub(crate) fn with_parts<R>(&self, f: impl FnOnce(&RequestParts) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        f(&RequestParts {
            method: &self.method,
            raw_path: &self.path,
            raw_query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    /// Parses the test-suite text form: `METHOD TARGET HTTP/1.1`, `Name:value` lines, a blank
    /// line, the body. The target may hold raw spaces and UTF-8 (the suite writes them so), and
    /// the version may be missing (the two older double-encoding cases).
    pub(crate) fn from_http_text(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.to_owned(), value.to_owned())
            })
            .collect();
        OwnedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of [`check`], reduced to what the tables compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Missing,
    Incomplete,
    Invalid,
}

impl Outcome {
    pub(crate) fn of(result: &Result<(), SigV4Error>) -> Self {
        match result {
            Ok(()) => Outcome::Ok,
            Err(SigV4Error::Missing) => Outcome::Missing,
            Err(SigV4Error::Incomplete(_)) => Outcome::Incomplete,
            Err(SigV4Error::Invalid(_)) => Outcome::Invalid,
        }
    }
}

/// Everything `verify` needs besides the request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) secret: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) max_skew: Duration,
    pub(crate) now: SystemTime,
}

impl Ctx {
    pub(crate) fn new(region: &str, service: &str, now: SystemTime) -> Self {
        Ctx {
            secret: EXAMPLE_SECRET.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            max_skew: Duration::from_secs(300),
            now,
        }
    }
}

/// `parse` then `verify`, as the server does once it has found the secret for the key id.
pub(crate) fn check(req: &OwnedRequest, ctx: &Ctx) -> Result<(), SigV4Error> {
    req.with_parts(|parts| {
        let auth = parse(parts)?;
        let policy = VerifyPolicy {
            region: &ctx.region,
            service: &ctx.service,
            max_skew: ctx.max_skew,
        };
        verify(
            parts,
            &auth,
            &SecretKey::new(ctx.secret.as_str()),
            &policy,
            ctx.now,
        )
    })
}

/// The time of every AWS test-suite request, 2015-08-30T12:36:00Z.
pub(crate) fn suite_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

/// Assertions on a refusal's variant and message.
pub(crate) trait OutcomeAssert {
    fn assert_incomplete_containing(&self, needle: &str);
    fn assert_invalid_containing(&self, needle: &str);
}

impl OutcomeAssert for Result<(), SigV4Error> {
    fn assert_incomplete_containing(&self, needle: &str) {
        match self {
            Err(SigV4Error::Incomplete(m)) if m.contains(needle) => {}
            other => panic!("expected Incomplete containing {needle:?}, got {other:?}"),
        }
    }

    fn assert_invalid_containing(&self, needle: &str) {
        match self {
            Err(SigV4Error::Invalid(m)) if m.contains(needle) => {}
            other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
        }
    }
}

#[test]
fn request_parts_debug_hides_values() {
    let req = OwnedRequest {
        method: "GET".into(),
        path: "/connect".into(),
        query: "userArn=u&X-Amz-Security-Token=SECRETTOKEN".into(),
        headers: vec![("x-amz-security-token".into(), "SECRETTOKEN".into())],
        body: b"SECRETBODY".to_vec(),
    };
    let printed = req.with_parts(|parts| format!("{parts:?}"));
    assert!(!printed.contains("SECRET"), "{printed}");
    assert!(printed.contains("X-Amz-Security-Token"), "{printed}");
    assert!(printed.contains("x-amz-security-token"), "{printed}");
}
