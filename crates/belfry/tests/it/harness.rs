//! Starting servers and making clients for them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_chimesdkidentity as identity;
use aws_sdk_chimesdkmessaging as messaging;
use belfry::config::KeyConfig;
use belfry::Config;
use belfry_core::events::{EventBus, NoEvents, Published};
use tokio::sync::oneshot;

pub const ADMIN_KEY: &str = "AKIDBELFRYADMIN00001";
pub const ADMIN_SECRET: &str = "admin-secret-for-tests";
/// A key limited to acting as users named `alice`.
pub const ALICE_KEY: &str = "AKIDBELFRYALICE00001";
pub const ALICE_SECRET: &str = "alice-secret-for-tests";
pub const REGION: &str = "us-east-1";

/// A server running in this process on an ephemeral port.
pub struct TestServer {
    pub endpoint: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with_events(Arc::new(NoEvents)).await
    }

    /// A server whose domain events go to `events`.
    pub async fn start_with_events(events: Arc<dyn EventBus>) -> Self {
        Self::start_with(events, |_| {}).await
    }

    /// A server whose domain events go to `events`, with `tweak` applied to the test config.
    pub async fn start_with(events: Arc<dyn EventBus>, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_data_dir(dir.path().to_path_buf());
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
        let (state, _, _) = belfry::build_state_with_events(&config, events).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(belfry::serve(state, listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            endpoint: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
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
        let id = server.identity();
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
