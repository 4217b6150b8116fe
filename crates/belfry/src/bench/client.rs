//! One keep-alive HTTP/1.1 connection that signs every request with SigV4, as an SDK would.

use std::time::SystemTime;

use anyhow::Context;
use belfry_sigv4::Signer;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What SDKs leave raw in a path label: RFC 3986 unreserved characters.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path label (an ARN) the way the SDKs do.
pub fn label(s: &str) -> String {
    utf8_percent_encode(s, LABEL).to_string()
}

/// A request to make.
#[derive(Debug, Clone)]
pub struct Call {
    /// HTTP method.
    pub method: &'static str,
    /// Path, already encoded.
    pub path: String,
    /// Query, already encoded, without `?`.
    pub query: String,
    /// `x-amz-chime-bearer`, if any.
    pub bearer: Option<String>,
    /// JSON body (empty for none).
    pub body: Vec<u8>,
}

/// The outcome of one call.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Bytes,
}

/// A connection to the server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    signer: Signer,
}

impl Connection {
    /// Opens a connection to `host` (`ip:port`).
    pub async fn open(host: &str, signer: Signer) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            host: host.to_string(),
            signer,
        })
    }

    /// Signs and sends one call and reads the whole answer.
    pub async fn call(&mut self, c: &Call) -> anyhow::Result<Answer> {
        let mut headers: Vec<(&str, &str)> = vec![("host", &self.host)];
        if !c.body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        if let Some(b) = &c.bearer {
            headers.push(("x-amz-chime-bearer", b));
        }
        let sig = self
            .signer
            .sign(
                c.method,
                &c.path,
                &c.query,
                &headers,
                &c.body,
                SystemTime::now(),
            )
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        let uri = if c.query.is_empty() {
            c.path.clone()
        } else {
            format!("{}?{}", c.path, c.query)
        };
        let mut req = http::Request::builder().method(c.method).uri(uri);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let req = req
            .header("x-amz-date", sig.amz_date)
            .header("authorization", sig.authorization)
            .body(Full::new(Bytes::from(c.body.clone())))?;
        self.sender.ready().await?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}
