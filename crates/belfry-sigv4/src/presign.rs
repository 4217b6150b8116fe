//! Presigning, the client's half of the query-string form: what amazon-chime-sdk-js does for
//! the messaging session's `/connect` URL (signature in `X-Amz-*` query parameters, only
//! `host` signed, the empty-body payload hash, an `X-Amz-Expires` window).

use std::time::{Duration, SystemTime};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::canonical::{canonical_query, sha256_hex, CanonicalRequest, QueryEncoding};
use crate::key::signature;
use crate::sign::Signer;
use crate::time::format_amz_date;
use crate::{SigV4Error, ALGORITHM};

/// RFC 3986 unreserved characters stay raw; everything else is `%XX`, as every SDK encodes
/// query parameters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(s, QUERY)
}

impl Signer {
    /// Presigns a `method` request for `host` and `raw_path` (already percent-encoded, as it
    /// will be sent) with the query parameters `params` (not encoded), valid for `expires`
    /// from `now`. Returns the whole query string to send, without the `?`: `params` and the
    /// `X-Amz-*` parameters, each RFC 3986-encoded, `X-Amz-Signature` last.
    ///
    /// Only `host` is signed and the payload hash is that of an empty body, as
    /// amazon-chime-sdk-js signs `/connect`.
    pub fn presign(
        &self,
        method: &str,
        host: &str,
        raw_path: &str,
        params: &[(&str, &str)],
        expires: Duration,
        now: SystemTime,
    ) -> Result<String, SigV4Error> {
        let amz_date = format_amz_date(now);
        let date = amz_date.get(..8).unwrap_or_default();
        let credential = format!(
            "{}/{date}/{}/{}/aws4_request",
            self.access_key_id, self.region, self.service
        );
        let expires = expires.as_secs().to_string();
        let amz: [(&str, &str); 5] = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", &credential),
            ("X-Amz-Date", &amz_date),
            ("X-Amz-Expires", &expires),
            ("X-Amz-SignedHeaders", "host"),
        ];
        let mut query = String::with_capacity(256);
        for (k, v) in params.iter().chain(amz.iter()) {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{}={}", enc(k), enc(v)));
        }
        let signed_headers = ["host".to_string()];
        let hashed = CanonicalRequest {
            method,
            raw_path,
            query: &canonical_query(&query, false, QueryEncoding::Rfc3986),
            headers: &[("host", host)],
            signed_headers: &signed_headers,
            payload_hash: &sha256_hex(b""),
        }
        .hash()?;
        let sig = hex::encode(signature(
            &self.key(date),
            &amz_date,
            [date, &self.region, &self.service],
            &hashed,
        ));
        query.push_str("&X-Amz-Signature=");
        query.push_str(&sig);
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::{parse, verify, RequestParts, SecretKey, SignatureForm, VerifyPolicy};

    fn signer() -> Signer {
        Signer {
            access_key_id: "AKIDEXAMPLE".into(),
            secret: SecretKey::new("secret"),
            region: "us-east-1".into(),
            service: "chime".into(),
        }
    }

    const USER: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a b/user/u!1";

    fn policy() -> VerifyPolicy<'static> {
        VerifyPolicy {
            region: "us-east-1",
            service: "chime",
            max_skew: Duration::from_secs(300),
        }
    }

    #[test]
    fn what_we_presign_we_verify_and_a_change_breaks_it() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let params = [("userArn", USER), ("sessionId", "s-1")];
        let query = signer()
            .presign(
                "GET",
                "127.0.0.1:7755",
                "/connect",
                &params,
                Duration::from_secs(10),
                now,
            )
            .unwrap();
        assert!(query.contains("X-Amz-SignedHeaders=host"));
        assert!(query.contains("X-Amz-Expires=10"));
        assert!(query.contains("userArn=arn%3Aaws%3Achime"));
        let headers = [("host", "127.0.0.1:7755")];
        let req = RequestParts {
            method: "GET",
            raw_path: "/connect",
            raw_query: &query,
            headers: &headers,
            body: b"",
        };
        let auth = parse(&req).unwrap();
        assert_eq!(auth.form, SignatureForm::Presigned { expires_secs: 10 });
        verify(&req, &auth, &SecretKey::new("secret"), &policy(), now).unwrap();
        // Past the window (with the skew allowance), the URL is refused.
        let late = now + Duration::from_secs(10 + 301);
        assert!(verify(&req, &auth, &SecretKey::new("secret"), &policy(), late).is_err());
        // Another host, another parameter value, another secret: refused.
        let other_host = [("host", "localhost:7755")];
        let moved = RequestParts {
            headers: &other_host,
            ..req
        };
        assert!(verify(&moved, &auth, &SecretKey::new("secret"), &policy(), now).is_err());
        let swapped = query.replace("sessionId=s-1", "sessionId=s-2");
        let changed = RequestParts {
            raw_query: &swapped,
            ..req
        };
        assert!(verify(&changed, &auth, &SecretKey::new("secret"), &policy(), now).is_err());
        assert!(verify(&req, &auth, &SecretKey::new("other"), &policy(), now).is_err());
    }
}
