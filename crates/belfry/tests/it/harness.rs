//! Starting servers and making clients for them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_chimesdkidentity as identity;
use aws_sdk_chimesdkmessaging as messaging;
use belfry::config::KeyConfig;
use belfry::Config;
use belfry_core::events::{EventBus, NoEvents, Published};
use belfry_core::time::{Clock, SystemClock};
use tokio_util::sync::CancellationToken;

pub const ADMIN_KEY: &str = "AKIDBELFRYADMIN00001";
pub const ADMIN_SECRET: &str = "admin-secret-for-tests";
/// A key limited to acting as users named `alice`.
pub const ALICE_KEY: &str = "AKIDBELFRYALICE00001";
pub const ALICE_SECRET: &str = "alice-secret-for-tests";
pub const REGION: &str = "us-east-1";

/// A server running in this process on an ephemeral port.
pub struct TestServer {
    /// `http://127.0.0.1:port`: the README's endpoint.
    pub endpoint: String,
    /// The listen address (plain HTTP and TLS).
    pub addr: SocketAddr,
    /// The TLS-only address, when the config asked for one.
    pub tls_addr: Option<SocketAddr>,
    /// The development CA's certificate, when TLS is on.
    pub ca_pem: Option<PathBuf>,
    /// The metrics listener's address, when the config gives `metrics` one.
    pub metrics_addr: Option<SocketAddr>,
    /// Cancelling it stops the server (as SIGTERM does).
    pub shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with_events(Arc::new(NoEvents)).await
    }

    /// A server whose domain events go to `events`.
    pub async fn start_with_events(events: Arc<dyn EventBus>) -> Self {
        Self::start_with(events, |_| {}).await
    }

    /// A server with the test defaults changed by `tweak`.
    pub async fn configured(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(Arc::new(NoEvents), tweak).await
    }

    /// A server whose "now" is `clock` (a `ManualClock` lets the test make time pass).
    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::launch(Arc::new(NoEvents), clock, |_| {}).await
    }

    /// A server whose domain events go to `events`, with `tweak` applied to the test config.
    pub async fn start_with(events: Arc<dyn EventBus>, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::launch(events, Arc::new(SystemClock), tweak).await
    }

    async fn launch(
        events: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_data_dir(dir.path().to_path_buf());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.admin_key = Some((ADMIN_KEY.into(), ADMIN_SECRET.into()));
        config.max_body_bytes = 64 * 1024;
        config.access_keys = vec![KeyConfig {
            id: ALICE_KEY.into(),
            secret: ALICE_SECRET.into(),
            bearers: Some(vec![
                "arn:aws:chime:us-east-1:000000000000:app-instance/*/user/alice".into(),
            ]),
        }];
        tweak(&mut config);
        config.check().unwrap();
        let wiring = belfry::Wiring {
            clock,
            events: Some(events),
        };
        let (state, _, _) = belfry::build_state_wired(&config, wiring).await.unwrap();
        let server = belfry::bind(&config, state).await.unwrap();
        let addr = server.addr;
        let tls_addr = server.tls_addr;
        let metrics_addr = server.metrics_addr;
        let ca_pem = server.dev_ca.as_ref().map(|d| d.ca_cert.clone());
        let shutdown = server.state.shutdown.clone();
        let task = tokio::spawn(belfry::serve(server));
        TestServer {
            endpoint: format!("http://{addr}"),
            addr,
            tls_addr,
            ca_pem,
            metrics_addr,
            shutdown,
            task: Some(task),
            _dir: Some(dir),
        }
    }

    /// A server another process runs (a node of a cluster), as the clients here reach it:
    /// listening on `addr`, with its development CA at `ca_pem`.
    pub fn external(addr: SocketAddr, ca_pem: PathBuf) -> Self {
        TestServer {
            endpoint: format!("http://{addr}"),
            addr,
            tls_addr: None,
            ca_pem: Some(ca_pem),
            metrics_addr: None,
            shutdown: CancellationToken::new(),
            task: None,
            _dir: None,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// A fresh connection for a websocket client.
    /// A TLS connection to the listen port trusting only the development CA, as
    /// amazon-chime-sdk-js opens one (`wss://`, always); `rcvbuf` sets the client's kernel
    /// receive buffer (a client that stops reading then backs up quickly).
    pub async fn ws_stream_with(&self, rcvbuf: Option<u32>) -> Box<dyn crate::ws::Io> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = rcvbuf {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(self.addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls_client_config());
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        Box::new(connector.connect(name, tcp).await.unwrap())
    }

    /// The scheme websocket clients use.
    pub fn ws_scheme(&self) -> &'static str {
        "wss"
    }

    pub fn identity(&self) -> identity::Client {
        self.identity_as(ADMIN_KEY, ADMIN_SECRET)
    }

    pub fn identity_as(&self, key: &str, secret: &str) -> identity::Client {
        let conf = identity::Config::builder()
            .behavior_version(identity::config::BehaviorVersion::latest())
            .region(identity::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(identity::config::Credentials::new(
                key, secret, None, None, "test",
            ))
            .retry_config(identity::config::retry::RetryConfig::disabled())
            .build();
        identity::Client::from_conf(conf)
    }

    pub fn messaging(&self) -> messaging::Client {
        self.messaging_with(ADMIN_KEY, ADMIN_SECRET, REGION, None)
    }

    /// A messaging client with chosen credentials, region and (optionally) a fixed clock.
    pub fn messaging_with(
        &self,
        key: &str,
        secret: &str,
        region: &str,
        at: Option<SystemTime>,
    ) -> messaging::Client {
        let mut b = messaging::Config::builder()
            .behavior_version(messaging::config::BehaviorVersion::latest())
            .region(messaging::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(messaging::config::Credentials::new(
                key, secret, None, None, "test",
            ))
            .retry_config(messaging::config::retry::RetryConfig::disabled());
        if let Some(t) = at {
            b = b.time_source(aws_smithy_async::time::StaticTimeSource::new(t));
        }
        messaging::Client::from_conf(b.build())
    }
}

impl TestServer {
    /// The development CA's certificate, as PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.ca_pem.as_ref().expect("TLS is on")).unwrap()
    }

    /// A rustls client configuration trusting only the server's development CA (for TLS and
    /// wss clients made by hand).
    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&self.ca_pem()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(belfry::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A messaging client calling `https://{authority}` and trusting the development CA.
    pub fn messaging_https(&self, authority: &str) -> messaging::Client {
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(
                tls::TlsContext::builder()
                    .with_trust_store(tls::TrustStore::empty().with_pem_certificate(self.ca_pem()))
                    .build()
                    .unwrap(),
            )
            .build_https();
        let conf = messaging::Config::builder()
            .behavior_version(messaging::config::BehaviorVersion::latest())
            .region(messaging::config::Region::new(REGION))
            .endpoint_url(format!("https://{authority}"))
            .credentials_provider(messaging::config::Credentials::new(
                ADMIN_KEY,
                ADMIN_SECRET,
                None,
                None,
                "test",
            ))
            .retry_config(messaging::config::retry::RetryConfig::disabled())
            .http_client(http)
            .build();
        messaging::Client::from_conf(conf)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The exception name of a failed SDK call (from `x-amzn-ErrorType`), panicking on success.
pub fn code<T: std::fmt::Debug, E>(r: Result<T, E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("no error code in {e:?}"))
            .to_string(),
    }
}

/// The error message of a failed SDK call.
pub fn message<T: std::fmt::Debug, E>(r: Result<T, E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.message().unwrap_or_default().to_string(),
    }
}

/// An AppInstance with users, made through the SDK.
pub struct World {
    pub app: String,
    pub users: Vec<String>,
}

impl World {
    /// Makes an AppInstance and one user per name (user id = name).
    pub async fn new(server: &TestServer, names: &[&str]) -> Self {
        Self::with_client(&server.identity(), names).await
    }

    /// The same, through any identity client (a test may run the built binary instead).
    pub async fn with_client(id: &identity::Client, names: &[&str]) -> Self {
        let app = id
            .create_app_instance()
            .name("test")
            .client_request_token(uuid())
            .send()
            .await
            .unwrap()
            .app_instance_arn
            .unwrap();
        let mut users = Vec::new();
        for n in names {
            let arn = id
                .create_app_instance_user()
                .app_instance_arn(&app)
                .app_instance_user_id(*n)
                .name(format!("{n} name"))
                .client_request_token(uuid())
                .send()
                .await
                .unwrap()
                .app_instance_user_arn
                .unwrap();
            users.push(arn);
        }
        World { app, users }
    }

    pub fn user(&self, i: usize) -> &str {
        &self.users[i]
    }
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Records every published domain event with its channel sequence number, in publish order.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Published>>);

impl EventBus for Recorder {
    fn publish(&self, event: Published) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    /// Takes what was recorded so far.
    pub fn take(&self) -> Vec<Published> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}
