//! An acknowledged message survives `kill -9`: many clients send, the server is killed with
//! SIGKILL mid-stream, restarted on the same data directory, and every acknowledged message is
//! there.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_chimesdkidentity as identity;
use aws_sdk_chimesdkmessaging as messaging;
use messaging::types::{
    ChannelMessagePersistenceType as Persistence, ChannelMessageType as MsgType,
};

use crate::binary::Proc;

const KEY: &str = "AKIDDURABILITY000001";
const SECRET: &str = "durability-secret";

/// Starts the built binary on `data` with JSON logs and `env` added; returns it and its endpoint.
pub(crate) fn start(data: &str, env: &[(&str, &str)]) -> (Proc, String) {
    let mut all_env = vec![
        ("BELFRY_ACCESS_KEY_ID", KEY),
        ("BELFRY_SECRET_ACCESS_KEY", SECRET),
    ];
    all_env.extend_from_slice(env);
    let mut p = Proc::start(
        &[
            "serve",
            "--data-dir",
            data,
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &all_env,
    );
    let line = p.wait_for("belfry listening");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    let endpoint = format!("http://{}", log["addr"].as_str().unwrap());
    (p, endpoint)
}

/// Clients for a server started by [`start`]; the messaging one never retries, so every answer
/// the test sees is the server's answer to one request.
pub(crate) fn clients(endpoint: &str) -> (identity::Client, messaging::Client) {
    let creds = identity::config::Credentials::new(KEY, SECRET, None, None, "kill9");
    let id = identity::Client::from_conf(
        identity::Config::builder()
            .behavior_version(identity::config::BehaviorVersion::latest())
            .region(identity::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds.clone())
            .build(),
    );
    let m = messaging::Client::from_conf(
        messaging::Config::builder()
            .behavior_version(messaging::config::BehaviorVersion::latest())
            .region(messaging::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .retry_config(messaging::config::retry::RetryConfig::disabled())
            .timeout_config(
                messaging::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build(),
    );
    (id, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (proc_, endpoint) = start(data, &[]);
    let (id, m) = clients(&endpoint);
    let (users, ch) = channel_of(&id, &m, 16).await;

    // 16 concurrent senders; every acknowledged MessageId is recorded.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let (m, ch, user, acked) = (m.clone(), ch.clone(), user.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let r = m
                    .send_channel_message()
                    .channel_arn(&ch)
                    .content(format!("{i}-{n}"))
                    .r#type(MsgType::Standard)
                    .persistence(Persistence::Persistent)
                    .client_request_token(format!("t-{i}-{n}"))
                    .chime_bearer(&user)
                    .send()
                    .await;
                match r {
                    Ok(out) => acked.lock().unwrap().push(out.message_id.unwrap()),
                    Err(_) => return n,
                }
            }
            0
        }));
    }
    // Let them run, then kill the server without warning.
    while acked.lock().unwrap().len() < 400 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill9(&proc_);
    for t in tasks {
        t.await.unwrap();
    }
    drop(proc_);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);

    let (proc2, endpoint) = start(data, &[]);
    let (_, m) = clients(&endpoint);
    let mut missing = Vec::new();
    for mid in &acked {
        let r = m
            .get_channel_message()
            .channel_arn(&ch)
            .message_id(mid)
            .chime_bearer(&users[0])
            .send()
            .await;
        if r.is_err() {
            missing.push(mid.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost",
        missing.len(),
        acked.len()
    );
    drop(proc2);
}

/// An AppInstance with `n` users, all members of one channel; returns the users and the channel.
pub(crate) async fn channel_of(
    id: &identity::Client,
    m: &messaging::Client,
    n: usize,
) -> (Vec<String>, String) {
    let app = id
        .create_app_instance()
        .name("d")
        .client_request_token("durable-app")
        .send()
        .await
        .unwrap()
        .app_instance_arn
        .unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        users.push(
            id.create_app_instance_user()
                .app_instance_arn(&app)
                .app_instance_user_id(format!("u{i}"))
                .name(format!("u{i}"))
                .client_request_token(format!("durable-user-{i}"))
                .send()
                .await
                .unwrap()
                .app_instance_user_arn
                .unwrap(),
        );
    }
    let ch = m
        .create_channel()
        .app_instance_arn(&app)
        .name("c")
        .client_request_token("durable-channel")
        .chime_bearer(&users[0])
        .send()
        .await
        .unwrap()
        .channel_arn
        .unwrap();
    m.batch_create_channel_membership()
        .channel_arn(&ch)
        .set_member_arns(Some(users.clone()))
        .chime_bearer(&users[0])
        .send()
        .await
        .unwrap();
    (users, ch)
}

/// Kills the server with SIGKILL: no shutdown, no final checkpoint.
pub(crate) fn kill9(p: &Proc) {
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(p.pid().to_string())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}
