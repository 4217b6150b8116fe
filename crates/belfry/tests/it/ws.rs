//! A websocket test client shaped like amazon-chime-sdk-js: it presigns the `/connect` URL with
//! the `aws-sigv4` crate (service `chime`, the empty-body hash, 10 s) and reads frames.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningParams, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::harness::{TestServer, ADMIN_KEY, ADMIN_SECRET, REGION};

/// Any byte stream the client can speak websocket over (plain TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What to sign the connect URL with.
pub struct Signing<'a> {
    pub key: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub at: SystemTime,
    pub expires: Duration,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            key: ADMIN_KEY,
            secret: ADMIN_SECRET,
            region: REGION,
            at: SystemTime::now(),
            expires: Duration::from_secs(10),
        }
    }
}

/// `path?query` of a presigned connect URL for `host`.
pub fn presign(host: &str, params: &[(&str, &str)], s: &Signing) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let url = format!("https://{host}/connect?{}", query.join("&"));
    let identity: Identity = Credentials::new(s.key, s.secret, None, None, "ws-test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(s.expires);
    let params: SigningParams = v4::SigningParams::builder()
        .identity(&identity)
        .region(s.region)
        .name("chime")
        .time(s.at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", host)];
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let uri = request.uri();
    format!("{}?{}", uri.path(), uri.query().unwrap_or_default())
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One frame as the client sees it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event_type: String,
    pub message_type: String,
    /// The payload string parsed as JSON (`Null` when empty).
    pub payload: Value,
}

/// What the socket yielded next.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    Closed(u16),
}

/// A connected session.
pub struct Ws {
    stream: WebSocketStream<Box<dyn Io>>,
}

impl Ws {
    /// Connects as `user` with session id `sid` (admin key, now), with extra query params.
    pub async fn connect(server: &TestServer, user: &str, sid: &str, extra: &[(&str, &str)]) -> Ws {
        Self::connect_signed(server, user, sid, extra, &Signing::default()).await
    }

    /// Connects with chosen signing.
    pub async fn connect_signed(
        server: &TestServer,
        user: &str,
        sid: &str,
        extra: &[(&str, &str)],
        signing: &Signing<'_>,
    ) -> Ws {
        let mut params = vec![("userArn", user), ("sessionId", sid)];
        params.extend_from_slice(extra);
        let host = server.addr.to_string();
        let path = presign(&host, &params, signing);
        Self::open(server, &path).await
    }

    /// Opens `path` (already signed, or not) on the server.
    pub async fn open(server: &TestServer, path: &str) -> Ws {
        Self::open_with(server, path, None).await
    }

    /// Connects as `user` over a socket with a small receive buffer, and reads
    /// SESSION_ESTABLISHED.
    pub async fn established_small_buffer(server: &TestServer, user: &str, sid: &str) -> Ws {
        let host = server.addr.to_string();
        let path = presign(
            &host,
            &[("userArn", user), ("sessionId", sid)],
            &Signing::default(),
        );
        let mut ws = Self::open_with(server, &path, Some(16 * 1024)).await;
        ws.expect("SESSION_ESTABLISHED").await;
        ws
    }

    async fn open_with(server: &TestServer, path: &str, rcvbuf: Option<u32>) -> Ws {
        let io = server.ws_stream_with(rcvbuf).await;
        let url = format!("{}://{}{path}", server.ws_scheme(), server.addr);
        let (stream, response) = tokio_tungstenite::client_async(url, io)
            .await
            .expect("websocket upgrade");
        assert_eq!(response.status(), 101);
        Ws { stream }
    }

    /// The next frame or the close code, failing after 10 s.
    pub async fn next(&mut self) -> Next {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no frame within 10 s");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("frame is JSON");
                    let payload = v["Payload"].as_str().expect("Payload is a string");
                    return Next::Frame(Frame {
                        event_type: v["Headers"]["x-amz-chime-event-type"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                        message_type: v["Headers"]["x-amz-chime-message-type"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                        payload: if payload.is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(payload).expect("Payload holds JSON")
                        },
                    });
                }
                Some(Ok(Message::Binary(_))) => panic!("binary frame"),
                Some(Ok(Message::Close(c))) => {
                    return Next::Closed(c.map(|c| u16::from(c.code)).unwrap_or(1005))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("websocket error: {e}"),
                None => return Next::Closed(1006),
            }
        }
    }

    /// The next frame, which must be of `event_type`.
    pub async fn expect(&mut self, event_type: &str) -> Frame {
        match self.next().await {
            Next::Frame(f) if f.event_type == event_type => f,
            other => panic!("expected {event_type}, got {other:?}"),
        }
    }

    /// The next frame, failing on a close.
    pub async fn next_frame(&mut self) -> Frame {
        match self.next().await {
            Next::Frame(f) => f,
            Next::Closed(code) => panic!("closed with {code} where a frame was expected"),
        }
    }

    /// Connects and reads SESSION_ESTABLISHED.
    pub async fn established(server: &TestServer, user: &str, sid: &str) -> Ws {
        let mut ws = Ws::connect(server, user, sid, &[]).await;
        ws.expect("SESSION_ESTABLISHED").await;
        ws
    }

    /// The close code the server ends the session with (frames before it are skipped).
    pub async fn closed(&mut self) -> u16 {
        loop {
            if let Next::Closed(code) = self.next().await {
                return code;
            }
        }
    }

    /// Reads until the connection ends in any way: a close frame, an error, or the bare end of
    /// the stream a killed server leaves.
    pub async fn ended(&mut self) {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("the connection did not end within 10 s");
            if matches!(msg, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                return;
            }
        }
    }

    /// Sends a text frame (clients normally send none).
    pub async fn send_text(&mut self, text: String) {
        self.stream.send(Message::Text(text.into())).await.unwrap();
    }

    /// Closes from the client side, as `DefaultMessagingSession.stop()` does.
    pub async fn stop(mut self) {
        let _ = self
            .stream
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}
