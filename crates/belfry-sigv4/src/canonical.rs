//! The canonical request: the exact bytes that SigV4 clients hash and sign.
//!
//! Every rule here mirrors what the AWS SDKs do for non-S3 services (botocore `auth.py`,
//! aws-sdk-js-v3 `SignatureV4` with `uriEscapePath`, aws-sigv4 with `PercentEncodingMode::Double`),
//! because a single byte of difference is a signature mismatch.

use std::fmt::{self, Write};

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::SigV4Error;

/// RFC 3986: everything but the unreserved characters `A-Za-z0-9-._~` is `%XX`-encoded
/// (uppercase hex; non-ASCII bytes of UTF-8 included).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The canonical URI keeps `/` raw: it separates segments, it is not data.
const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

/// JavaScript's `encodeURIComponent` also leaves `!'()*` raw; amazon-chime-sdk-js builds its
/// presigned canonical query with it.
const JS_URI_COMPONENT: &AsciiSet = &RFC3986
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// How query keys and values are re-encoded for the canonical query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryEncoding {
    /// What every AWS SDK does.
    Rfc3986,
    /// What amazon-chime-sdk-js does (`encodeURIComponent`), tried only as a fallback.
    JsUriComponent,
}

/// Lowercase hex SHA-256, the form of `HashedPayload`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Removes `.`/`..` segments and empty segments (`//`), as the SDKs do before signing;
/// an empty path is `/`.
///
/// Works on the raw path: an encoded dot (`%2E`) is data, not a dot segment, for the SDKs too.
/// A path ending in `/`, `/.` or `/..` keeps a trailing slash (RFC 3986 §5.2.4).
pub(crate) fn normalize_path(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(raw_path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    let trailing = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|end| raw_path.ends_with(end));
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Whether normalizing would leave the path as it is: it starts with `/` and has no empty,
/// `.` or `..` segment (a trailing `/` is kept by both).
fn is_normal(raw_path: &str) -> bool {
    let Some(rest) = raw_path.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    raw_path == "/"
        || rest
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// The canonical URI of a non-S3 service: the raw path, normalized, then percent-encoded a
/// second time. `%3A` becomes `%253A`, `%2F` becomes `%252F` and a raw `:` becomes `%3A`.
///
/// Never decode first: the client signed the encoding of what it sent, and decoding would
/// confuse an encoded `%2F` inside an ARN label with a path separator.
#[cfg(test)]
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    let mut out = String::with_capacity(raw_path.len() * 2);
    let _ = write_canonical_uri(&mut out, raw_path);
    out
}

fn write_canonical_uri(w: &mut impl Write, raw_path: &str) -> fmt::Result {
    if is_normal(raw_path) {
        write!(w, "{}", percent_encode(raw_path.as_bytes(), RFC3986_PATH))
    } else {
        let normal = normalize_path(raw_path);
        write!(w, "{}", percent_encode(normal.as_bytes(), RFC3986_PATH))
    }
}

/// The canonical query string: each `k=v` piece decoded then re-encoded, sorted by encoded key
/// then encoded value, joined with `&`. With `skip_signature` the `X-Amz-Signature` parameter is
/// left out (presigned form: it cannot sign itself).
///
/// `+` is kept as a literal `+` (so it becomes `%2B`): SDKs encode spaces as `%20`, and
/// `x-www-form-urlencoded` rules do not apply to query strings here.
pub(crate) fn canonical_query(
    raw_query: &str,
    skip_signature: bool,
    encoding: QueryEncoding,
) -> String {
    let set = match encoding {
        QueryEncoding::Rfc3986 => RFC3986,
        QueryEncoding::JsUriComponent => JS_URI_COMPONENT,
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for piece in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let key: Vec<u8> = percent_decode_str(key).collect();
        if skip_signature && key == b"X-Amz-Signature" {
            continue;
        }
        let value: Vec<u8> = percent_decode_str(value).collect();
        pairs.push((
            percent_encode(&key, set).to_string(),
            percent_encode(&value, set).to_string(),
        ));
    }
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Whether the strict canonical query holds one of the characters `encodeURIComponent` leaves
/// raw, i.e. whether a chime-sdk-js signature could differ from the strict one at all.
pub(crate) fn has_js_raw_chars(canonical_query: &str) -> bool {
    ["%21", "%27", "%28", "%29", "%2A"]
        .iter()
        .any(|enc| canonical_query.contains(enc))
}

/// All values of header `name` (case-insensitive), each trimmed with inner runs of spaces and
/// tabs collapsed to one space, joined with `,` in the order received. `None` if absent.
pub(crate) fn header_value(headers: &[(&str, &str)], name: &str) -> Option<String> {
    let mut out = String::new();
    write_header_value(&mut out, headers, name)
        .ok()
        .flatten()
        .map(|()| out)
}

/// Writes [`header_value`]; `Ok(None)` if the header is absent.
fn write_header_value(
    w: &mut impl Write,
    headers: &[(&str, &str)],
    name: &str,
) -> Result<Option<()>, fmt::Error> {
    let mut found = false;
    for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
        if found {
            w.write_char(',')?;
        }
        found = true;
        let mut words = value
            .split([' ', '\t'])
            .filter(|word| !word.is_empty())
            .peekable();
        while let Some(word) = words.next() {
            w.write_str(word)?;
            if words.peek().is_some() {
                w.write_char(' ')?;
            }
        }
    }
    Ok(found.then_some(()))
}

pub(crate) fn missing_header(name: &str) -> SigV4Error {
    SigV4Error::incomplete(format!(
        "Header '{}' is listed in SignedHeaders but is not present in the request.",
        crate::error::shown(name)
    ))
}

/// The canonical headers block: `name:value\n` for each signed header, in the order given.
#[cfg(test)]
pub(crate) fn canonical_headers(
    headers: &[(&str, &str)],
    signed_headers: &[String],
) -> Result<String, SigV4Error> {
    let mut out = String::new();
    write_canonical_headers(&mut out, headers, signed_headers)?;
    Ok(out)
}

fn write_canonical_headers(
    w: &mut impl Write,
    headers: &[(&str, &str)],
    signed_headers: &[String],
) -> Result<(), SigV4Error> {
    for name in signed_headers {
        write!(w, "{name}:").map_err(fmt_error)?;
        write_header_value(w, headers, name)
            .map_err(fmt_error)?
            .ok_or_else(|| missing_header(name))?;
        w.write_char('\n').map_err(fmt_error)?;
    }
    Ok(())
}

fn fmt_error(_: fmt::Error) -> SigV4Error {
    SigV4Error::incomplete("The canonical request could not be written.")
}

/// The pieces of a canonical request, written by [`CanonicalRequest::write`].
pub(crate) struct CanonicalRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) raw_path: &'a str,
    /// Already canonical (see [`canonical_query`]).
    pub(crate) query: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// Lowercase names, sorted.
    pub(crate) signed_headers: &'a [String],
    pub(crate) payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED_HEADERS\nPAYLOAD_HASH`; the headers block ends with
    /// its own newline, hence the blank line after it.
    pub(crate) fn write(&self, w: &mut impl Write) -> Result<(), SigV4Error> {
        w.write_str(self.method).map_err(fmt_error)?;
        w.write_char('\n').map_err(fmt_error)?;
        write_canonical_uri(w, self.raw_path).map_err(fmt_error)?;
        write!(w, "\n{}\n", self.query).map_err(fmt_error)?;
        write_canonical_headers(w, self.headers, self.signed_headers)?;
        w.write_char('\n').map_err(fmt_error)?;
        for (i, name) in self.signed_headers.iter().enumerate() {
            if i > 0 {
                w.write_char(';').map_err(fmt_error)?;
            }
            w.write_str(name).map_err(fmt_error)?;
        }
        write!(w, "\n{}", self.payload_hash).map_err(fmt_error)
    }

    /// The canonical request as text.
    #[cfg(test)]
    pub(crate) fn render(&self) -> Result<String, SigV4Error> {
        let mut out = String::with_capacity(512);
        self.write(&mut out)?;
        Ok(out)
    }

    /// SHA-256 of the canonical request, computed without building it.
    pub(crate) fn hash(&self) -> Result<[u8; 32], SigV4Error> {
        let mut sink = HashSink(Sha256::new());
        self.write(&mut sink)?;
        Ok(sink.0.finalize().into())
    }
}

/// A `fmt::Write` that feeds SHA-256.
struct HashSink(Sha256);

impl Write for HashSink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_cases() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("//example//", "/example/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/a/b/../c/./d", "/a/c/d"),
            ("/a/b/.", "/a/b/"),
            ("/../a", "/a"),
            ("/%2E%2E/a", "/%252E%252E/a"),
            ("/example space/", "/example%20space/"),
            ("/example%20space/", "/example%2520space/"),
            ("/\u{1234}", "/%E1%88%B4"),
            ("/-._~09AZaz", "/-._~09AZaz"),
            ("/a:b@c+d", "/a%3Ab%40c%2Bd"),
            (
                "/channels/arn%3Aaws%3Achime%3Aus-east-1%3A000000000000%3Aapp-instance%2Fabc%2Fchannel%2Fdef/memberships",
                "/channels/arn%253Aaws%253Achime%253Aus-east-1%253A000000000000%253Aapp-instance%252Fabc%252Fchannel%252Fdef/memberships",
            ),
            ("/channels/arn:aws:chime", "/channels/arn%3Aaws%3Achime"),
            ("/connect", "/connect"),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonical_uri(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn canonical_query_cases() {
        use QueryEncoding::*;
        let cases = [
            ("", false, Rfc3986, ""),
            ("&&", false, Rfc3986, ""),
            ("b=2&a=1", false, Rfc3986, "a=1&b=2"),
            ("a=2&a=1&a=10", false, Rfc3986, "a=1&a=10&a=2"),
            (
                "Param2=v&Param1=v&param0=v",
                false,
                Rfc3986,
                "Param1=v&Param2=v&param0=v",
            ),
            ("flag", false, Rfc3986, "flag="),
            ("flag=", false, Rfc3986, "flag="),
            ("k=a=b", false, Rfc3986, "k=a%3Db"),
            ("k=a+b", false, Rfc3986, "k=a%2Bb"),
            ("k=a%20b", false, Rfc3986, "k=a%20b"),
            ("k=arn:aws", false, Rfc3986, "k=arn%3Aaws"),
            ("k=arn%3aaws", false, Rfc3986, "k=arn%3Aaws"),
            ("k=%2F", false, Rfc3986, "k=%2F"),
            ("k=%zz", false, Rfc3986, "k=%25zz"),
            ("%E1%88%B4=bar", false, Rfc3986, "%E1%88%B4=bar"),
            ("\u{1234}=bar", false, Rfc3986, "%E1%88%B4=bar"),
            ("k=-._~", false, Rfc3986, "k=-._~"),
            ("k=!'()*", false, Rfc3986, "k=%21%27%28%29%2A"),
            ("k=!'()*", false, JsUriComponent, "k=!'()*"),
            ("k=%21%2A%3A", false, JsUriComponent, "k=!*%3A"),
            ("b=1&X-Amz-Signature=ab&a=2", true, Rfc3986, "a=2&b=1"),
            (
                "b=1&X-Amz-Signature=ab&a=2",
                false,
                Rfc3986,
                "X-Amz-Signature=ab&a=2&b=1",
            ),
        ];
        for (raw, skip, encoding, expected) in cases {
            assert_eq!(canonical_query(raw, skip, encoding), expected, "{raw:?}");
        }
    }

    #[test]
    fn js_raw_chars_detection() {
        assert!(has_js_raw_chars("k=%21"));
        assert!(has_js_raw_chars("a=b&k=%2A"));
        assert!(!has_js_raw_chars("k=%3A%2F"));
    }

    #[test]
    fn header_value_cases() {
        let headers = [
            ("Host", "example.com"),
            ("My-Header", "  a   b\t\tc  "),
            ("my-header", "second"),
            ("Empty", ""),
            ("Quoted", "\"a   b   c\""),
        ];
        let cases = [
            ("host", Some("example.com")),
            ("my-header", Some("a b c,second")),
            ("empty", Some("")),
            ("quoted", Some("\"a b c\"")),
            ("absent", None),
        ];
        for (name, expected) in cases {
            assert_eq!(header_value(&headers, name).as_deref(), expected, "{name}");
        }
    }

    #[test]
    fn canonical_headers_missing_header_is_incomplete() {
        let headers = [("Host", "example.com")];
        let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
        let err = canonical_headers(&headers, &signed).unwrap_err();
        assert!(
            matches!(&err, SigV4Error::Incomplete(m) if m.contains("'x-amz-date'")),
            "{err}"
        );
        let signed = vec!["host".to_owned()];
        assert_eq!(
            canonical_headers(&headers, &signed).unwrap(),
            "host:example.com\n"
        );
    }
}
