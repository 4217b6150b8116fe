//! Hand-made HTTP requests, signed with the reference signer (aws-sigv4), for what an SDK will
//! not send: malformed JSON, missing headers, unknown routes.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::harness::{TestServer, ADMIN_KEY, ADMIN_SECRET, REGION};

/// A response, read whole.
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// How to sign.
pub enum Signing<'a> {
    None,
    Admin,
    /// Sign these headers (and host/x-amz-date); `extra` headers are added after signing.
    AdminWithUnsigned(&'a [(&'a str, &'a str)]),
}

/// Sends one request. `headers` are signed (when signing).
pub async fn send(
    s: &TestServer,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    signing: Signing<'_>,
) -> Raw {
    let host = s.addr.to_string();
    let url = format!("{}{}", s.endpoint, path_and_query);
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let unsigned: &[(&str, &str)] = match signing {
        Signing::AdminWithUnsigned(extra) => extra,
        _ => &[],
    };
    if !matches!(signing, Signing::None) {
        let identity: Identity =
            Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "raw").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("chime")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let mut to_sign: Vec<(&str, &str)> = vec![("host", host.as_str())];
        to_sign.extend(headers.iter().copied());
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            to_sign.into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (hs, _) = instructions.into_parts();
        for h in hs {
            all.push((h.name().to_string(), h.value().to_string()));
        }
    }
    all.extend(unsigned.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let client = reqwest::Client::new();
    let mut req = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        &url,
    );
    for (k, v) in all {
        req = req.header(k, v);
    }
    let res = req.body(body.to_vec()).send().await.unwrap();
    Raw {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

/// Percent-encodes a path label the way SDKs do (only unreserved characters stay raw).
pub fn label(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
