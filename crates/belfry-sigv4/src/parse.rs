//! Reading what a request claims (key id, scope, signed headers, time, signature) before the
//! secret is known, so the caller can look the secret up by access key id.

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use percent_encoding::percent_decode_str;

use crate::canonical::{header_value, missing_header};
use crate::error::shown;
use crate::time::parse_amz_date;
use crate::{RequestParts, SigV4Error, SignatureForm, ALGORITHM};

/// AWS refuses presigned URLs valid for more than 7 days; so do we.
const MAX_EXPIRES_SECS: u64 = 604_800;

/// The header clients name the acting AppInstanceUser with. Whoever can change it unsigned can
/// act as someone else, so when present it must be covered by the signature.
const CHIME_BEARER: &str = "x-amz-chime-bearer";

/// What the request claims, parsed before the secret is known (so the caller can look up the
/// key). Nothing here is trusted until [`crate::verify`] has accepted it.
#[derive(Clone)]
pub struct ParsedAuth {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// `yyyymmdd` from the credential scope.
    pub scope_date: String,
    /// Region from the credential scope.
    pub region: String,
    /// Service (signing name) from the credential scope.
    pub service: String,
    /// Signed header names, lowercase, in the order given.
    pub signed_headers: Vec<String>,
    /// From `X-Amz-Date` (header form: the `x-amz-date` header; presigned: the query parameter).
    pub request_time: SystemTime,
    /// The raw `X-Amz-Date` value.
    pub amz_date: String,
    /// `x-amz-security-token` header or `X-Amz-Security-Token` parameter (temporary credentials).
    pub security_token: Option<String>,
    /// Which signing form the request used.
    pub form: SignatureForm,
    /// The signature the client sent.
    pub(crate) signature: [u8; 32],
    /// Presigned form only: an `X-Amz-Content-Sha256` parameter, if given.
    pub(crate) presigned_content_sha256: Option<String>,
}

impl ParsedAuth {
    /// The credential scope, `yyyymmdd/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }
}

impl fmt::Debug for ParsedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A session token is a credential; keep it out of logs like the secret.
        let token = self.security_token.as_ref().map(|_| "[redacted]");
        f.debug_struct("ParsedAuth")
            .field("access_key_id", &self.access_key_id)
            .field("scope_date", &self.scope_date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("request_time", &self.request_time)
            .field("amz_date", &self.amz_date)
            .field("security_token", &token)
            .field("form", &self.form)
            .finish_non_exhaustive()
    }
}

/// Parses the `Authorization` header (or the presigned query parameters) without checking the
/// signature. Refuses with [`SigV4Error::Missing`] when neither is there and
/// [`SigV4Error::Incomplete`] when what is there is malformed.
pub fn parse(req: &RequestParts) -> Result<ParsedAuth, SigV4Error> {
    let mut authorization = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| *value);
    let first = authorization.next();
    let more_than_one = authorization.next().is_some();
    let params = AmzParams::from_query(req.raw_query);
    let presigned = params.has("X-Amz-Signature") || params.has("X-Amz-Credential");

    let auth = match (first, presigned) {
        (None, false) => return Err(SigV4Error::Missing),
        (Some(_), true) => {
            return Err(SigV4Error::incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
                 or the Authorization header should be specified.",
            ))
        }
        (Some(_), false) if more_than_one => {
            return Err(SigV4Error::incomplete(
                "The request has more than one Authorization header.",
            ))
        }
        (Some(value), false) => parse_header_form(req, value)?,
        (None, true) => parse_presigned_form(&params)?,
    };
    check_signed_headers(req, &auth)?;
    Ok(auth)
}

fn parse_header_form(req: &RequestParts, value: &str) -> Result<ParsedAuth, SigV4Error> {
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, components) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported Authorization header; only the {ALGORITHM} algorithm is accepted."
        )));
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in components.split(',') {
        let component = component.trim_matches([' ', '\t']);
        if component.is_empty() {
            continue;
        }
        let Some((key, value)) = component.split_once('=') else {
            return Err(SigV4Error::incomplete(
                "Authorization header components must be of the form 'Key=Value'.",
            ));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(SigV4Error::incomplete(format!(
                    "Authorization header has an unknown component '{}'.",
                    shown(key)
                )))
            }
        };
        if slot.replace(value).is_some() {
            return Err(SigV4Error::incomplete(format!(
                "Authorization header has more than one '{key}' component."
            )));
        }
    }
    let missing: Vec<String> = [
        ("Credential", credential.is_none()),
        ("SignedHeaders", signed_headers.is_none()),
        ("Signature", signature.is_none()),
    ]
    .iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
    .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(SigV4Error::incomplete(missing.join(" ")));
    };

    let scope = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    let signature = parse_signature(signature)?;
    let amz_date = single_header(req.headers, "x-amz-date")?.ok_or_else(|| {
        SigV4Error::incomplete("Authorization header requires existence of an 'X-Amz-Date' header.")
    })?;
    let request_time = parse_date(amz_date)?;
    let security_token = single_header(req.headers, "x-amz-security-token")?.map(str::to_owned);

    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        scope_date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        request_time,
        amz_date: amz_date.to_owned(),
        security_token,
        form: SignatureForm::Header,
        signature,
        presigned_content_sha256: None,
    })
}

fn parse_presigned_form(params: &AmzParams) -> Result<ParsedAuth, SigV4Error> {
    let required = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|name| !params.has(name))
        .collect();
    if !missing.is_empty() {
        return Err(SigV4Error::incomplete(format!(
            "Query-string authentication requires the {} parameters; missing: {}.",
            required.join(", "),
            missing.join(", ")
        )));
    }
    let get = |name: &str| -> Result<&str, SigV4Error> {
        params
            .single(name)?
            .ok_or_else(|| SigV4Error::incomplete(format!("Missing '{name}' query parameter.")))
    };

    if get("X-Amz-Algorithm")? != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}'."
        )));
    }
    let scope = parse_credential(get("X-Amz-Credential")?)?;
    let amz_date = get("X-Amz-Date")?;
    let request_time = parse_date(amz_date)?;
    let expires = get("X-Amz-Expires")?;
    let expires_secs = Some(expires)
        .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or_else(|| {
            SigV4Error::incomplete(
                "X-Amz-Expires must be a non-negative integer number of seconds.",
            )
        })?;
    if expires_secs > MAX_EXPIRES_SECS {
        return Err(SigV4Error::incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES_SECS}."
        )));
    }
    let signed_headers = parse_signed_headers(get("X-Amz-SignedHeaders")?)?;
    let signature = parse_signature(get("X-Amz-Signature")?)?;
    let security_token = params.single("X-Amz-Security-Token")?.map(str::to_owned);
    let content_sha256 = params.single("X-Amz-Content-Sha256")?.map(str::to_owned);

    Ok(ParsedAuth {
        access_key_id: scope.access_key_id,
        scope_date: scope.date,
        region: scope.region,
        service: scope.service,
        signed_headers,
        request_time,
        amz_date: amz_date.to_owned(),
        security_token,
        form: SignatureForm::Presigned { expires_secs },
        signature,
        presigned_content_sha256: content_sha256,
    })
}

/// Rules on which headers must be signed, shared by both forms.
fn check_signed_headers(req: &RequestParts, auth: &ParsedAuth) -> Result<(), SigV4Error> {
    let signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    if !signed("host") {
        return Err(SigV4Error::incomplete(
            "The 'host' header must be included in SignedHeaders.",
        ));
    }
    if auth.form == SignatureForm::Header && !signed("x-amz-date") {
        return Err(SigV4Error::incomplete(
            "The 'x-amz-date' header must be included in SignedHeaders.",
        ));
    }
    let bearer_present = req
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(CHIME_BEARER));
    if bearer_present && !signed(CHIME_BEARER) {
        return Err(SigV4Error::incomplete(format!(
            "The '{CHIME_BEARER}' header is present but not included in SignedHeaders."
        )));
    }
    // Checked here as well as when canonicalizing so the refusal comes before the key lookup.
    for name in &auth.signed_headers {
        match header_value(req.headers, name) {
            None => return Err(missing_header(name)),
            // A value that is not visible ASCII reaches us decoded lossily (HTTP does not say
            // how its bytes read as text), so the bytes the client signed are not known.
            Some(value)
                if !value
                    .chars()
                    .all(|c| c.is_ascii_graphic() || c == ' ' || c == '\t') =>
            {
                return Err(SigV4Error::incomplete(format!(
                    "Header '{}' listed in SignedHeaders has a value that is not visible ASCII; \
                     only visible ASCII characters, spaces and tabs can be signed.",
                    shown(name)
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The parts of `AKID/yyyymmdd/region/service/aws4_request`.
struct Scope {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
}

fn parse_credential(credential: &str) -> Result<Scope, SigV4Error> {
    let shape = || {
        SigV4Error::incomplete(
            "Credential should be of the form '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'.",
        )
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let &[access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(shape());
    };
    if access_key_id.is_empty() || region.is_empty() || service.is_empty() {
        return Err(shape());
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::incomplete(
            "Credential should be scoped to a date of the form yyyymmdd.",
        ));
    }
    if terminator != "aws4_request" {
        return Err(SigV4Error::incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            shown(terminator)
        )));
    }
    Ok(Scope {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
    })
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = Vec::new();
    for name in list.split(';') {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':' && b != b',');
        if !valid {
            return Err(SigV4Error::incomplete(
                "SignedHeaders must be a ';'-separated list of header names.",
            ));
        }
        let name = name.to_ascii_lowercase();
        if names.contains(&name) {
            return Err(SigV4Error::incomplete(format!(
                "SignedHeaders lists '{}' more than once.",
                shown(&name)
            )));
        }
        names.push(name);
    }
    Ok(names)
}

fn parse_signature(signature: &str) -> Result<[u8; 32], SigV4Error> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(signature, &mut bytes)
        .map_err(|_| SigV4Error::incomplete("Signature must be 64 hexadecimal characters."))?;
    Ok(bytes)
}

fn parse_date(amz_date: &str) -> Result<SystemTime, SigV4Error> {
    parse_amz_date(amz_date).ok_or_else(|| {
        SigV4Error::incomplete(format!(
            "X-Amz-Date '{}' is not a valid date of the form yyyymmddThhmmssZ.",
            shown(amz_date)
        ))
    })
}

/// The one value of a header that must not repeat; `None` if absent.
fn single_header<'a>(
    headers: &[(&'a str, &'a str)],
    name: &str,
) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']));
    let first = values.next();
    if values.next().is_some() {
        return Err(SigV4Error::incomplete(format!(
            "The request has more than one '{name}' header."
        )));
    }
    Ok(first)
}

/// The decoded `X-Amz-*` query parameters (names are case-sensitive, as at AWS).
struct AmzParams {
    params: Vec<(String, Result<String, ()>)>,
}

impl AmzParams {
    fn from_query(raw_query: &str) -> Self {
        let params = raw_query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .filter_map(|piece| {
                let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
                let key = percent_decode_str(key).decode_utf8().ok()?;
                if !key.starts_with("X-Amz-") {
                    return None;
                }
                let value = percent_decode_str(value)
                    .decode_utf8()
                    .map(Cow::into_owned)
                    .map_err(|_| ());
                Some((key.into_owned(), value))
            })
            .collect();
        AmzParams { params }
    }

    fn has(&self, name: &str) -> bool {
        self.params.iter().any(|(key, _)| key == name)
    }

    fn single(&self, name: &str) -> Result<Option<&str>, SigV4Error> {
        let mut values = self.params.iter().filter(|(key, _)| key == name);
        let Some((_, first)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(SigV4Error::incomplete(format!(
                "The query string has more than one '{name}' parameter."
            )));
        }
        match first {
            Ok(value) => Ok(Some(value.as_str())),
            Err(()) => Err(SigV4Error::incomplete(format!(
                "The '{name}' query parameter is not valid UTF-8."
            ))),
        }
    }
}
