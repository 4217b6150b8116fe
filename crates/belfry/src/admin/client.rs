//! A signed HTTP/1.1 client for one server: plain or TLS by the endpoint's scheme, every
//! request signed with SigV4 as the AWS SDKs sign them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context};
use belfry_sigv4::Signer;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

/// Path labels are encoded as the load generator (and the SDKs) encode them.
pub use crate::bench::client::label;

/// Where the server is and how to trust it.
pub struct Endpoint {
    /// `host:port`, as connected to and signed (the `host` header).
    pub authority: String,
    /// For `https://`: the CA certificate(s) to trust.
    pub ca: Option<PathBuf>,
}

impl Endpoint {
    /// Reads `http://host:port` or `https://host:port` (a trailing `/` is allowed). An https
    /// endpoint needs `ca`.
    pub fn parse(url: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            bail!("the endpoint must start with http:// or https:// ({url})");
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            bail!("the endpoint must be http(s)://host:port, without a path ({url})");
        }
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let authority = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let ca = match (tls, ca) {
            (false, _) => None,
            (true, Some(ca)) => Some(ca.to_path_buf()),
            (true, None) => bail!(
                "{url} is https: give the server's CA with --ca <data-dir>/tls/ca.pem (or NODE_EXTRA_CA_CERTS)"
            ),
        };
        Ok(Endpoint { authority, ca })
    }
}

/// A connection that signs every request.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    signer: Signer,
}

/// A whole answer.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON if the status is 2xx, else an error quoting the server's answer.
    pub fn json(self, what: &str) -> anyhow::Result<serde_json::Value> {
        if !(200..300).contains(&self.status) {
            bail!(
                "{what}: HTTP {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        if self.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body)
            .with_context(|| format!("{what}: the answer is not JSON"))
    }
}

impl Client {
    /// Connects to `endpoint`.
    pub async fn connect(endpoint: &Endpoint, signer: Signer) -> anyhow::Result<Self> {
        let tcp = TcpStream::connect(&endpoint.authority)
            .await
            .with_context(|| format!("connecting to {}", endpoint.authority))?;
        tcp.set_nodelay(true)?;
        let sender = match &endpoint.ca {
            None => {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
            Some(ca) => {
                let (connector, name) = tls(ca, &endpoint.authority)?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .context("TLS handshake (is --ca the server's <data-dir>/tls/ca.pem?)")?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                sender
            }
        };
        Ok(Client {
            sender,
            authority: endpoint.authority.clone(),
            signer,
        })
    }

    /// Signs and sends a request; the answer's head and streaming body.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> anyhow::Result<http::Response<Incoming>> {
        let mut headers: Vec<(&str, &str)> = vec![("host", &self.authority)];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let sig = self
            .signer
            .sign(method, path, "", &headers, body, SystemTime::now())
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let req = req
            .header("x-amz-date", sig.amz_date)
            .header("authorization", sig.authorization)
            .body(Full::new(Bytes::copy_from_slice(body)))?;
        self.sender.ready().await?;
        Ok(self.sender.send_request(req).await?)
    }

    /// Signs and sends a request and reads the whole answer.
    pub async fn call(&mut self, method: &str, path: &str, body: &[u8]) -> anyhow::Result<Answer> {
        let res = self.send(method, path, body).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}

fn tls(
    ca: &Path,
    authority: &str,
) -> anyhow::Result<(tokio_rustls::TlsConnector, ServerName<'static>)> {
    let (config, name) = crate::tls::client_trusting(ca, authority)?;
    Ok((tokio_rustls::TlsConnector::from(config), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read_with_their_default_ports_and_https_needs_a_ca() {
        let e = Endpoint::parse("http://127.0.0.1:7755/", None).unwrap();
        assert_eq!((e.authority.as_str(), e.ca), ("127.0.0.1:7755", None));
        assert_eq!(
            Endpoint::parse("http://chat.example.com", None)
                .unwrap()
                .authority,
            "chat.example.com:80"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:9000", None)
                .unwrap()
                .authority,
            "[::1]:9000"
        );
        let ca = Path::new("/tmp/ca.pem");
        let e = Endpoint::parse("https://[::1]", Some(ca)).unwrap();
        assert_eq!(e.authority, "[::1]:443");
        assert_eq!(e.ca.as_deref(), Some(ca));
        let no_ca = Endpoint::parse("https://localhost:7755", None)
            .err()
            .unwrap();
        assert!(no_ca.to_string().contains("--ca"), "{no_ca}");
        for bad in ["localhost:7755", "ftp://x", "http://x/path", "http://"] {
            assert!(Endpoint::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_are_encoded_as_the_sdks_encode_them() {
        assert_eq!(
            label("arn:aws:chime:us-east-1:1:app-instance/a_b.c~d"),
            "arn%3Aaws%3Achime%3Aus-east-1%3A1%3Aapp-instance%2Fa_b.c~d"
        );
    }
}
