//! Checking a parsed request against the policy, the clock and the secret.

use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

use crate::canonical::{
    canonical_query, has_js_raw_chars, header_value, sha256_hex, CanonicalRequest, QueryEncoding,
};
use crate::key::{signature, signing_key};
use crate::time::{describe_duration, format_amz_date};
use crate::{ParsedAuth, RequestParts, SecretKey, SigV4Error, SignatureForm, VerifyPolicy};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

const MISMATCH: &str = "The request signature we calculated does not match the signature you \
                        provided. Check your AWS Secret Access Key and signing method. Consult \
                        the service documentation for details.";

/// Verifies the signature of `req` with `secret`, at time `now`.
///
/// `auth` must come from [`crate::parse`] on the same request. Checks, in this order (the order
/// AWS reports them in): scope service, scope region, scope date against `X-Amz-Date`, time
/// window, payload hash, then the signature itself, compared in constant time.
pub fn verify(
    req: &RequestParts,
    auth: &ParsedAuth,
    secret: &SecretKey,
    policy: &VerifyPolicy,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    verify_with_key(req, auth, policy, now, |auth| {
        signing_key(secret, &auth.scope_date, &auth.region, &auth.service)
    })
}

/// As [`verify`], with the signing key supplied by `key_for` (called only once the scope and
/// time checks passed, so with the policy's region and service), which lets a server cache the
/// derived key per access key and day instead of running the HMAC chain on every request.
pub fn verify_with_key(
    req: &RequestParts,
    auth: &ParsedAuth,
    policy: &VerifyPolicy,
    now: SystemTime,
    key_for: impl FnOnce(&ParsedAuth) -> [u8; 32],
) -> Result<(), SigV4Error> {
    check_scope(auth, policy)?;
    check_time(auth, policy.max_skew, now)?;
    let payload_hash = payload_hash(req, auth)?;

    let key = key_for(auth);
    let presigned = matches!(auth.form, SignatureForm::Presigned { .. });
    let strict_query = canonical_query(req.raw_query, presigned, QueryEncoding::Rfc3986);
    let attempt = |query: &str| -> Result<bool, SigV4Error> {
        let expected = expected_signature(req, auth, &key, query, &payload_hash)?;
        Ok(bool::from(expected.ct_eq(&auth.signature)))
    };
    if attempt(&strict_query)? {
        return Ok(());
    }
    // amazon-chime-sdk-js signs its presigned URL over a query built with encodeURIComponent,
    // which leaves !'()* raw where every SDK encodes them; only then can a retry help.
    if presigned && has_js_raw_chars(&strict_query) {
        let js_query = canonical_query(req.raw_query, true, QueryEncoding::JsUriComponent);
        if attempt(&js_query)? {
            return Ok(());
        }
    }
    Err(SigV4Error::invalid(MISMATCH))
}

fn canonical<'a>(
    req: &'a RequestParts,
    auth: &'a ParsedAuth,
    canonical_query: &'a str,
    payload_hash: &'a str,
) -> CanonicalRequest<'a> {
    CanonicalRequest {
        method: req.method,
        raw_path: req.raw_path,
        query: canonical_query,
        headers: req.headers,
        signed_headers: &auth.signed_headers,
        payload_hash,
    }
}

/// The canonical request for `req` with the given canonical query and payload hash.
#[cfg(test)]
pub(crate) fn canonical_request(
    req: &RequestParts,
    auth: &ParsedAuth,
    canonical_query: &str,
    payload_hash: &str,
) -> Result<String, SigV4Error> {
    canonical(req, auth, canonical_query, payload_hash).render()
}

fn expected_signature(
    req: &RequestParts,
    auth: &ParsedAuth,
    key: &[u8; 32],
    canonical_query: &str,
    payload_hash: &str,
) -> Result<[u8; 32], SigV4Error> {
    let hashed = canonical(req, auth, canonical_query, payload_hash).hash()?;
    let scope = [
        auth.scope_date.as_str(),
        auth.region.as_str(),
        auth.service.as_str(),
    ];
    Ok(signature(key, &auth.amz_date, scope, &hashed))
}

fn check_scope(auth: &ParsedAuth, policy: &VerifyPolicy) -> Result<(), SigV4Error> {
    if auth.service != policy.service {
        return Err(SigV4Error::invalid(format!(
            "Credential should be scoped to correct service: '{}'.",
            policy.service
        )));
    }
    if auth.region != policy.region {
        return Err(SigV4Error::invalid(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            crate::error::shown(&auth.region)
        )));
    }
    let http_date = auth.amz_date.get(..8).unwrap_or(&auth.amz_date);
    if auth.scope_date != http_date {
        return Err(SigV4Error::invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{}', from '{}'.",
            auth.scope_date, http_date, auth.amz_date
        )));
    }
    Ok(())
}

/// Header form: `|now - request_time| <= skew`. Presigned: `request_time - skew <= now <=
/// request_time + expires + skew` (chime-sdk-js signs for 10 s, so the skew matters there too).
fn check_time(auth: &ParsedAuth, skew: Duration, now: SystemTime) -> Result<(), SigV4Error> {
    let signed_at = auth.request_time;
    let validity = match auth.form {
        SignatureForm::Header => Duration::ZERO,
        SignatureForm::Presigned { expires_secs } => Duration::from_secs(expires_secs),
    };
    let skew_text = describe_duration(skew);

    // `now + skew < signed_at` without risking overflow of `SystemTime` arithmetic.
    let too_early = signed_at
        .duration_since(now)
        .is_ok_and(|ahead| ahead > skew);
    if too_early {
        let limit = now
            .checked_add(skew)
            .map(format_amz_date)
            .unwrap_or_default();
        return Err(SigV4Error::invalid(format!(
            "Signature not yet current: {} is still later than {} ({} + {}).",
            auth.amz_date,
            limit,
            format_amz_date(now),
            skew_text
        )));
    }
    // `now > signed_at + validity + skew`.
    let too_late = now
        .duration_since(signed_at)
        .is_ok_and(|elapsed| elapsed > validity.saturating_add(skew));
    if too_late {
        let earliest = now
            .checked_sub(skew)
            .map(format_amz_date)
            .unwrap_or_default();
        let message = match auth.form {
            SignatureForm::Header => format!(
                "Signature expired: {} is now earlier than {} ({} - {}).",
                auth.amz_date,
                earliest,
                format_amz_date(now),
                skew_text
            ),
            SignatureForm::Presigned { expires_secs } => format!(
                "Signature expired: signed at {} for {} seconds, now is {} (allowing {} of clock skew).",
                auth.amz_date,
                expires_secs,
                format_amz_date(now),
                skew_text
            ),
        };
        return Err(SigV4Error::invalid(message));
    }
    Ok(())
}

/// The `HashedPayload` line. A claimed body hash (`x-amz-content-sha256` header, or the
/// `X-Amz-Content-Sha256` parameter when presigned) is used as given, after checking it against
/// the body unless it is `UNSIGNED-PAYLOAD`; without one, the body is hashed.
pub(crate) fn payload_hash(req: &RequestParts, auth: &ParsedAuth) -> Result<String, SigV4Error> {
    let (claimed, what) = match auth.form {
        SignatureForm::Header => (
            header_value(req.headers, "x-amz-content-sha256"),
            "'x-amz-content-sha256' header",
        ),
        SignatureForm::Presigned { .. } => (
            auth.presigned_content_sha256.clone(),
            "'X-Amz-Content-Sha256' parameter",
        ),
    };
    let computed = sha256_hex(req.body);
    match claimed {
        None => Ok(computed),
        Some(claimed) if claimed == UNSIGNED_PAYLOAD => Ok(claimed),
        Some(claimed) if claimed.eq_ignore_ascii_case(&computed) => Ok(claimed),
        Some(_) => Err(SigV4Error::invalid(format!(
            "The provided {what} does not match what was computed."
        ))),
    }
}
